"""A local Estimator (``BaseEstimatorV2``): Pauli expectation values from measured shots.

Like the hardware service, it measures each qubit-wise commuting group of Pauli terms in its
own basis, ``ceil(1/precision**2)`` shots per basis, and reports the mean and the standard error
computed from those shots. With precision 0 on the ideal simulator it returns exact values.
Mitigation (TREX with measurement twirling, gate twirling, ZNE by gate folding or PEA, PEC)
runs inside the same job.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from qiskit import ClassicalRegister, QuantumCircuit
from qiskit.circuit import Parameter
from qiskit.primitives import BaseEstimatorV2, DataBin, PrimitiveResult, PubResult
from qiskit.primitives.containers.estimator_pub import EstimatorPub, EstimatorPubLike
from qiskit.quantum_info import Pauli, PauliList

from qrt_runner.backend import LocalBackend
from qrt_runner.mitigation.decoupling import add_dynamical_decoupling
from qrt_runner.mitigation.extrapolation import extrapolate, fit
from qrt_runner.mitigation.folding import fold_two_qubit_gates
from qrt_runner.mitigation.layer_noise import layer_noise_source
from qrt_runner.mitigation.layer_sampling import LayerNoisePlan, randomizations_for
from qrt_runner.mitigation.options import EffectiveMitigation
from qrt_runner.mitigation.twirling import twirl_angles, twirl_template
from qrt_runner.modes import ExecutionMode, LocalJob
from qrt_runner.simulation.task import SimTask
from qrt_runner.primitives.precision import shots_for_precision
from qrt_runner.transpile import IsaCircuit


@dataclass
class EstimatorOptions:
    """Leaf names as in ``qiskit_ibm_runtime.options_models.EstimatorOptions``."""

    default_precision: float = 0.015625
    default_shots: int | None = None
    max_execution_time: float = 10800.0
    mitigation: EffectiveMitigation | None = None


def _compact_label(label: str, logical_to_compact: tuple[int, ...], width: int) -> str:
    letters = ["I"] * width
    for logical, letter in enumerate(reversed(label)):
        if letter != "I":
            letters[width - 1 - logical_to_compact[logical]] = letter
    return "".join(letters)


class _PubPlan:
    """The circuits of one PUB, and how to turn their outputs into evs and stds.

    Without mitigation: one circuit per qubit-wise commuting basis (or one circuit of saved
    expectation values when exact). With mitigation, per noise factor (ZNE, gate folding) one
    circuit per basis whose measurements are twirled by a template ``sx rz(phi) sx`` (phi = 0
    flips the bit, pi does not) and whose two-qubit gates are Pauli-twirled, all bound per
    randomisation, plus one TREX calibration circuit.
    """

    def __init__(self, pub: EstimatorPub, isa: IsaCircuit, backend: LocalBackend, shots: int,
                 mitigation: EffectiveMitigation | None, seed: int):
        self.pub, self.isa, self.shots = pub, isa, shots
        self.mitigation = mitigation if (mitigation is not None and mitigation.active and shots > 0) else None
        width = isa.circuit.num_qubits
        self.obs_terms = [
            {_compact_label(label, isa.logical_to_compact, width): coeff for label, coeff in element.items()}
            for element in pub.observables.ravel().tolist()
        ]
        identity = "I" * width
        paulis = sorted({label for terms in self.obs_terms for label in terms if label != identity})
        self.identity = np.array([terms.get(identity, 0.0) for terms in self.obs_terms], dtype=float).real
        self.bounds = np.array([sum(abs(c) for c in terms.values()) for terms in self.obs_terms], dtype=float)
        values = pub.parameter_values.as_array([p.name for p in isa.circuit.parameters])
        self.param_shape = pub.parameter_values.shape
        self.num_sets = int(np.prod(self.param_shape)) if self.param_shape else 1
        self.flat_values = values.reshape(self.num_sets, -1)
        mit = self.mitigation
        self.factors = mit.zne_noise_factors if mit and mit.zne_mitigation else (1.0,)
        self.twirled = bool(mit and mit.enable_measure)
        self.twirl_gates = bool(mit and mit.enable_gates)
        self.trex = bool(mit and mit.measure_mitigation)
        # a model from a file may put PEC/PEA Paulis on qubits a layer leaves idle
        self.idle_slots = bool(mit and mit.needs_layer_noise and mit.layer_noise_model is not None)
        signature = "exact" if shots == 0 else "measured"
        if mit is not None:
            signature += f"|zne{self.factors}{mit.zne_amplifier if mit.zne_mitigation else ''}|twirl{self.twirled}{self.twirl_gates}|trex{self.trex}"
            if self.twirl_gates:
                signature += f"|{mit.strategy}|idle{self.idle_slots}"
            if mit.dd_enable:
                signature += f"|dd{mit.dd_sequence_type}{mit.dd_scheduling_method}{mit.dd_extra_slack_distribution}{mit.dd_skip_reset_qubits}"
        cache_key = f"{isa.fingerprint}|{signature}|" + hashlib.sha256(",".join(paulis).encode()).hexdigest()[:16]
        started = time.perf_counter()
        cached = backend.measurement_circuits.get(cache_key)
        if cached is None:
            cached = backend.measurement_circuits[cache_key] = self._build_circuits(paulis, backend)
        self.groups, self.circuits, self.calibration = cached
        self.build_s = time.perf_counter() - started  # ~0 when the circuits were cached
        self.cache_key = cache_key
        self.noise, self.gain, self.gamma, total_shots = None, None, 1.0, shots
        if mit is not None and mit.needs_layer_noise and self.circuits:
            source = layer_noise_source(mit.layer_noise_model, backend.name if backend.device is not None else None)
            self.noise = LayerNoisePlan(self.circuits[0], isa.physical_qubits, source)
            if mit.pec_mitigation:
                self.gain = self.noise.pec_gain(mit.pec_noise_gain, mit.pec_max_overhead)
                total_shots = math.ceil(shots * self.noise.overhead(self.gain))
        randomized = self.twirled or self.twirl_gates
        if randomized:
            self.randomizations, self.shots_per_binding = randomizations_for(
                total_shots, mit.num_randomizations, mit.shots_per_randomization, mit.num_randomizations_auto and self.noise is not None)
        else:
            self.randomizations, self.shots_per_binding = 1, shots
        self.signs: dict[int, np.ndarray] = {}
        rng = np.random.default_rng([seed, 7])
        self.flips = rng.integers(0, 2, size=(self.randomizations, width)) if self.twirled else np.zeros((self.randomizations, width), dtype=int)
        self.rng = rng
        if self.trex:
            self.calibration_flips = rng.integers(0, 2, size=(mit.measure_noise_learning_num_randomizations, width))

    # -- circuits -------------------------------------------------------------------------
    def _build_circuits(self, paulis: list[str], backend: LocalBackend):
        """(groups, circuits per noise factor and basis, TREX calibration circuit or None)."""
        if self.shots == 0:
            circuit = self.isa.circuit.copy()
            for label in paulis:
                circuit.save_expectation_value(Pauli(label), list(range(circuit.num_qubits)), label=label)
            return [paulis], [circuit], None
        groups = [g.to_labels() for g in PauliList(paulis).group_qubit_wise_commuting()] if paulis else []
        mit = self.mitigation
        circuits = []
        for factor in self.factors:
            base = self.isa.circuit
            if factor != 1.0 and mit.zne_amplifier != "pea":
                base = fold_two_qubit_gates(base, factor, mit.zne_amplifier, backend.seed_simulator)
            if mit is not None and mit.dd_enable:
                base = add_dynamical_decoupling(
                    base, backend.compact_target(self.isa.physical_qubits), mit.dd_sequence_type,
                    mit.dd_scheduling_method, mit.dd_extra_slack_distribution, mit.dd_skip_reset_qubits,
                )
            if self.twirl_gates:
                base = twirl_template(base, mit.strategy, idle_slots=self.idle_slots)
            circuits += [self._measurement_circuit(base, group, backend) for group in groups]
        calibration = None
        if self.trex and groups:
            measured = sorted({q for c in circuits for q in c.metadata["qrt_measured_qubits"]})
            calibration = self._twirled_measurement(QuantumCircuit(self.isa.circuit.num_qubits), measured, "qrt_cal", backend)
        return groups, circuits, calibration

    def _measurement_circuit(self, base: QuantumCircuit, group: list[str], backend: LocalBackend):
        width = base.num_qubits
        basis = ["I"] * width
        for label in group:
            for qubit, letter in enumerate(reversed(label)):
                if letter != "I":
                    basis[qubit] = letter
        measured = [q for q in range(width) if basis[q] != "I"]
        circuit = base.copy()
        for qubit in measured:
            if basis[qubit] in "XY":
                for instruction in backend.basis_change(basis[qubit]).data:
                    circuit.append(instruction.operation, [circuit.qubits[qubit]], copy=False)
        return self._twirled_measurement(circuit, measured, "qrt_meas", backend)

    def _twirled_measurement(self, circuit: QuantumCircuit, measured: list[int], name: str, backend: LocalBackend):
        register = ClassicalRegister(len(measured), name)
        circuit.add_register(register)
        for clbit, qubit in enumerate(measured):
            if self.twirled:
                phi = Parameter(f"qrt_mt_{qubit}")
                circuit.sx(qubit)
                circuit.rz(phi, qubit)
                circuit.sx(qubit)
            circuit.measure(qubit, register[clbit])
        positions = [circuit.find_bit(bit).index for bit in register]  # after any clbits the circuit had
        circuit.metadata = {**(circuit.metadata or {}), "qrt_measured_qubits": measured, "qrt_clbits": positions}
        return circuit

    # -- tasks ----------------------------------------------------------------------------
    def _corrections(self, index: int, randomizations: int) -> dict[int, np.ndarray] | None:
        """PEC or PEA Paulis per layer of circuit ``index`` (PEC also records its signs and gamma)."""
        if self.noise is None:
            return None
        if self.mitigation.pec_mitigation:
            corrections, self.signs[index], self.gamma = self.noise.sample(self.gain - 1.0, randomizations, self.rng)
            return corrections
        factor = self.factors[index // max(len(self.groups), 1)]
        return self.noise.sample(factor - 1.0, randomizations, self.rng)[0]

    def _values(self, circuit: QuantumCircuit, flips: np.ndarray, with_user: bool, index: int | None = None) -> np.ndarray | None:
        """Rows (set, randomisation) of circuit.parameters: user values, then twirl angles."""
        repeats = len(flips)
        sets = self.num_sets if with_user else 1
        columns = {}
        if with_user:
            for column, param in enumerate(self.isa.circuit.parameters):
                columns[param.name] = np.repeat(self.flat_values[:, column], repeats)
        for qubit in range(flips.shape[1]):
            columns[f"qrt_mt_{qubit}"] = np.tile(np.where(flips[:, qubit] == 1, 0.0, np.pi), sets)
        if self.twirl_gates and with_user:
            corrections = self._corrections(index, repeats) if index is not None else None
            for name, column in twirl_angles(circuit, repeats, self.rng, corrections).items():
                columns[name] = np.tile(column, sets)
        names = [p.name for p in circuit.parameters]
        if not names:
            return None
        return np.stack([columns[name] for name in names], axis=1)

    def sim_tasks(self, backend: LocalBackend, seed: int) -> list[SimTask]:
        common = dict(
            device=backend.name if backend.device is not None else None, qubits=self.isa.physical_qubits,
            method=backend.method, threads=backend.threads, seed=seed,
        )
        tasks = [SimTask(
            kind="expval" if self.shots == 0 else "counts", shots=self.shots_per_binding if self.shots else 0,
            circuits=list(self.circuits), parameter_values=[self._values(c, self.flips, True, i) for i, c in enumerate(self.circuits)],
            circuit_keys=[f"{self.cache_key}|{i}" for i in range(len(self.circuits))], **common,
        )]
        if self.calibration is not None:
            tasks.append(SimTask(
                kind="counts", shots=self.mitigation.measure_noise_learning_shots_per_randomization,
                circuits=[self.calibration], parameter_values=[self._values(self.calibration, self.calibration_flips, False)],
                circuit_keys=[f"{self.cache_key}|cal"], **common,
            ))
        return tasks

    # -- combining --------------------------------------------------------------------------
    def _pooled(self, rows: list[tuple[np.ndarray, np.ndarray]], flips: np.ndarray, circuit: QuantumCircuit, masks: np.ndarray):
        """Outcomes of the rows of one parameter set pooled over randomisations, bit flips undone:
        (signs per outcome and Pauli, weights, the row of every outcome)."""
        measured, positions = circuit.metadata["qrt_measured_qubits"], circuit.metadata["qrt_clbits"]
        flip_bits = (flips[:, measured].astype(np.int64) << np.asarray(positions, dtype=np.int64)).sum(axis=1)
        outcomes = np.concatenate([outcome for outcome, _ in rows])
        weights = np.concatenate([counts for _, counts in rows]).astype(float)
        row_of = np.repeat(np.arange(len(rows)), [len(outcome) for outcome, _ in rows])
        parity = _popcount((outcomes ^ flip_bits[row_of])[:, None] & masks[None, :]) & 1
        return 1.0 - 2.0 * parity, weights, row_of

    def _randomization_means(self, rows, circuit: QuantumCircuit, masks: np.ndarray, coeffs: np.ndarray) -> np.ndarray:
        """Per randomisation, the mean of every observable's group part: ``(randomisations, observables)``."""
        signs, weights, row_of = self._pooled(rows, self.flips, circuit, masks)
        weighted = weights[:, None] * (signs @ coeffs.T)
        totals = np.bincount(row_of, weights=weights, minlength=len(rows))
        sums = np.stack([np.bincount(row_of, weights=column, minlength=len(rows)) for column in weighted.T], axis=1)
        return sums / totals[:, None]

    def _calibration_factors(self, rows: list[tuple[np.ndarray, np.ndarray]]) -> dict[str, tuple[float, float]]:
        """TREX: per Pauli, the measured <Z...Z> of |0...0> with twirled readout (ideal: 1)."""
        labels = sorted({label for group in self.groups for label in group})
        masks = np.array([_parity_mask(label, self.calibration) for label in labels], dtype=np.int64)
        signs, weights, _ = self._pooled(rows, self.calibration_flips, self.calibration, masks)
        total = weights.sum()
        means = weights @ signs / total
        variances = weights @ (signs - means) ** 2 / total / max(total - 1, 1)
        return {label: (float(m), float(np.sqrt(v))) for label, m, v in zip(labels, means, variances)}

    def combine(self, outputs: list[list[list[dict]]]) -> PubResult:
        """Per-PUB evs and stds from the outputs of :meth:`sim_tasks`."""
        started = time.perf_counter()
        num_sets, num_obs = self.num_sets, len(self.obs_terms)
        calibration = self._calibration_factors(outputs[1][0]) if self.calibration is not None else None
        per_factor_evs = np.zeros((len(self.factors), num_sets, num_obs))
        per_factor_vars = np.zeros_like(per_factor_evs)
        outputs = outputs[0]
        num_groups = len(self.groups)
        repeats = len(self.flips)
        for f in range(len(self.factors)):
            evs = np.tile(self.identity, (num_sets, 1))
            variances = np.zeros((num_sets, num_obs))
            for g, group in enumerate(self.groups):
                circuit, rows = self.circuits[f * num_groups + g], outputs[f * num_groups + g]
                coeffs = np.array([[np.real(terms.get(label, 0.0)) for label in group] for terms in self.obs_terms])
                if self.shots == 0:
                    for index, data in enumerate(rows):
                        evs[index] += coeffs @ np.array([data[label] for label in group])
                    continue
                if calibration is not None:
                    scale = np.array([calibration[label][0] for label in group])
                    coeffs = coeffs / np.where(np.abs(scale) > 1e-3, scale, 1e-3)
                masks = np.array([_parity_mask(label, circuit) for label in group], dtype=np.int64)
                for index in range(num_sets):
                    chunk = rows[index * repeats:(index + 1) * repeats]
                    if self.noise is not None and repeats > 1:
                        # PEC/PEA: randomisations differ on purpose; their means are the samples
                        values = self._randomization_means(chunk, circuit, masks, coeffs)
                        if self.mitigation.pec_mitigation:
                            values = values * (self.gamma * self.signs[f * num_groups + g])[:, None]
                        evs[index] += values.mean(axis=0)
                        variances[index] += values.var(axis=0, ddof=1) / repeats
                        continue
                    signs, weights, _ = self._pooled(chunk, self.flips, circuit, masks)
                    total = weights.sum()
                    per_shot = signs @ coeffs.T
                    mean = weights @ per_shot / total
                    evs[index] += mean
                    if total > 1:
                        variances[index] += weights @ (per_shot - mean) ** 2 / total / (total - 1)
            per_factor_evs[f], per_factor_vars[f] = evs, variances
        metadata = {
            "target_precision": self.pub.precision,
            "shots": self.shots,
            "num_bases": num_groups if self.shots else 0,
            "circuit_metadata": self.pub.circuit.metadata,
        }
        evs, stds = per_factor_evs[0], np.sqrt(per_factor_vars[0])
        if self.mitigation is not None:
            evs, stds = self._extrapolate(per_factor_evs, np.sqrt(per_factor_vars), metadata, calibration)
            metadata["mitigation"].update(build_s=self.build_s, combine_s=time.perf_counter() - started)
        param_index = np.arange(num_sets).reshape(self.param_shape) if self.param_shape else np.array(0)
        obs_index = np.arange(num_obs).reshape(self.pub.observables.shape)
        p_idx, o_idx = np.broadcast_arrays(param_index, obs_index)
        data = DataBin(evs=evs[p_idx, o_idx], stds=stds[p_idx, o_idx], shape=self.pub.shape)
        return PubResult(data, metadata=metadata)

    def _extrapolate(self, evs_f: np.ndarray, stds_f: np.ndarray, metadata: dict, calibration) -> tuple[np.ndarray, np.ndarray]:
        mit = self.mitigation
        metadata["mitigation"] = {
            "num_circuits": len(self.circuits) + (self.calibration is not None),
            "num_randomizations": self.randomizations,
            "shots_per_randomization": self.shots_per_binding,
            "shots_spent": int(self.shots_per_binding * self.randomizations * len(self.circuits) * self.num_sets
                               + (mit.measure_noise_learning_num_randomizations * mit.measure_noise_learning_shots_per_randomization
                                  if self.calibration is not None else 0)),
        }
        if calibration is not None:
            metadata["mitigation"]["trex_calibration"] = {label: value for label, (value, _) in calibration.items()}
        if self.noise is not None:
            metadata["mitigation"]["layer_noise_model"] = self.noise.describe()
        if mit.pec_mitigation and self.noise is not None:
            metadata["mitigation"]["pec"] = {
                "noise_gain": self.gain, "gamma": self.gamma, "sampling_overhead": self.noise.overhead(self.gain),
                "max_overhead": mit.pec_max_overhead,
            }
        if not mit.zne_mitigation:
            return evs_f[0], stds_f[0]
        num_sets, num_obs = evs_f.shape[1:]
        evs, stds = np.zeros((num_sets, num_obs)), np.zeros((num_sets, num_obs))
        chosen = np.empty((num_sets, num_obs), dtype=object)
        at = np.asarray(mit.zne_extrapolated_noise_factors)
        extrapolated = np.zeros((num_sets, num_obs, len(mit.zne_extrapolator), len(at)))
        for s_index in range(num_sets):
            for o in range(num_obs):
                best, fits = extrapolate(mit.zne_extrapolator, self.factors, evs_f[:, s_index, o], stds_f[:, s_index, o],
                                         self.bounds[o], at=(0.0,))
                evs[s_index, o], stds[s_index, o], chosen[s_index, o] = best.values[0], best.stds[0], best.name
                for k, name in enumerate(mit.zne_extrapolator):
                    extrapolated[s_index, o, k] = fit(name, self.factors, evs_f[:, s_index, o], stds_f[:, s_index, o], at).values
        metadata["mitigation"].update(
            noise_factors=list(self.factors),
            evs_noise_factors=evs_f.transpose(1, 2, 0).tolist(),
            stds_noise_factors=stds_f.transpose(1, 2, 0).tolist(),
            extrapolator=chosen.tolist(),
            extrapolated_noise_factors=at.tolist(),
            evs_extrapolated=extrapolated.tolist(),
        )
        return evs, stds


def _parity_mask(label: str, circuit: QuantumCircuit) -> int:
    """Bits of the outcome (as Aer reports it, over all clbits) that carry ``label``'s parity."""
    mask = 0
    for qubit, position in zip(circuit.metadata["qrt_measured_qubits"], circuit.metadata["qrt_clbits"]):
        if label[len(label) - 1 - qubit] != "I":
            mask |= 1 << position
    return mask


def _popcount(values: np.ndarray) -> np.ndarray:
    if hasattr(np, "bitwise_count"):
        return np.bitwise_count(values)
    return np.vectorize(lambda v: bin(v).count("1"))(values)


class Estimator(BaseEstimatorV2):
    """Qiskit's V2 Estimator on a :class:`LocalBackend`, run as jobs of an execution mode.

    Args:
        backend: the local backend (ideal or fake device).
        mode: a session or batch; None runs each job on its own (job mode).
        options: default precision/shots and the job time limit.
    """

    def __init__(self, backend: LocalBackend, mode: ExecutionMode | None = None, options: EstimatorOptions | None = None):
        self.backend = backend
        self.mode = mode or ExecutionMode("job", backend.executor)
        self.options = options or EstimatorOptions()

    def run(self, pubs: Iterable[EstimatorPubLike], *, precision: float | None = None) -> LocalJob:
        if precision is None:
            precision = self.options.default_precision
        coerced = [EstimatorPub.coerce(pub, precision) for pub in pubs]
        seed = self.backend.next_seed()
        plans = []
        for pub in coerced:
            if pub.precision == 0 and self.backend.device is not None and self.options.default_shots is None:
                raise ValueError(f"precision 0 (exact) is only available on the ideal simulator, not {self.backend.name}")
            shots = self.options.default_shots or shots_for_precision(pub.precision)
            isa = self.backend.compiler.compile(pub.circuit)
            plans.append(_PubPlan(pub, isa, self.backend, shots, self.options.mitigation, seed))
        plan_tasks = [plan.sim_tasks(self.backend, seed) for plan in plans]

        def postprocess(outputs):
            results, position = [], 0
            for plan, tasks in zip(plans, plan_tasks):
                results.append(plan.combine(outputs[position:position + len(tasks)]))
                position += len(tasks)
            return PrimitiveResult(results, metadata={"version": 2, "seed_simulator": seed})

        return self.mode.submit([task for tasks in plan_tasks for task in tasks], postprocess, self.options.max_execution_time)
