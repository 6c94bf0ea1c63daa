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
from pathlib import Path
from typing import Any

import numpy as np
from qiskit import ClassicalRegister, QuantumCircuit
from qiskit.circuit import Parameter
from qiskit.primitives import BaseEstimatorV2, DataBin, PrimitiveResult, PubResult
from qiskit.primitives.containers.estimator_pub import EstimatorPub, EstimatorPubLike
from qiskit.quantum_info import Pauli, PauliList

from qrt_runner.backend import LocalBackend
from qrt_runner.cost import job_cost
from qrt_runner.mitigation.decoupling import add_dynamical_decoupling
from qrt_runner.mitigation.folding import fold_two_qubit_gates
from qrt_runner.mitigation.layer_channels import LayerNoisePlan, measure_sign, randomizations_for, with_channels
from qrt_runner.mitigation.layer_noise import layer_noise_source
from qrt_runner.mitigation.options import EffectiveMitigation
from qrt_runner.mitigation.twirling import twirl_angles, twirl_template
from qrt_runner.mitigation.zne import TermData, extrapolate_pub
from qrt_runner.modes import ExecutionMode, LocalJob, Planned
from qrt_runner.primitives.pauli_terms import mean_and_covariance, parity_mask, shot_values
from qrt_runner.primitives.precision import shots_for_precision
from qrt_runner.simulation.task import SimTask, resolve_method
from qrt_runner.transpile import IsaCircuit


@dataclass
class EstimatorOptions:
    """Leaf names as in ``qiskit_ibm_runtime.options_models.EstimatorOptions``."""

    default_precision: float = 0.015625
    default_shots: int | None = None
    max_execution_time: float = 10800.0
    mitigation: EffectiveMitigation | None = None


PREFIX_MAX_QUBITS = 8  # a prefix's density matrix travels inside the circuits that continue it


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
    randomisation, plus one TREX calibration circuit; PEC and PEA add a Pauli channel behind every
    layer (:mod:`qrt_runner.mitigation.layer_channels`). Every circuit of the PUB goes to the
    simulator in one task.
    """

    def __init__(
        self,
        pub: EstimatorPub,
        isa: IsaCircuit,
        backend: LocalBackend,
        shots: int,
        mitigation: EffectiveMitigation | None,
        seed: int,
    ):
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
        self.pec = bool(mit and mit.pec_mitigation)
        self.share_prefix = self._shares_prefix(backend)
        cache_key = (
            f"{isa.fingerprint}|{self._signature(backend)}|"
            + hashlib.sha256(",".join(paulis).encode()).hexdigest()[:16]
        )
        started = time.perf_counter()
        cached = backend.measurement_circuits.get(cache_key)
        if cached is None:
            cached = backend.measurement_circuits[cache_key] = self._build_circuits(paulis, backend)
        self.groups, self.circuits, self.calibration, self.noise, self.gain, self.prefixes = cached
        self.build_s = time.perf_counter() - started  # ~0 when the circuits were cached
        self.cache_key = cache_key
        self.labels = [label for group in self.groups for label in group]
        self.coeffs = np.array(
            [[np.real(terms.get(label, 0.0)) for label in self.labels] for terms in self.obs_terms]
        ).reshape(len(self.obs_terms), len(self.labels))
        total_shots = shots
        if self.pec and self.noise is not None:
            total_shots = math.ceil(shots * self.noise.overhead(self.gain))
        if self.twirled or self.twirl_gates:
            assert mit is not None  # twirling is a mitigation option
            self.randomizations, self.shots_per_binding = randomizations_for(
                total_shots,
                mit.num_randomizations,
                mit.shots_per_randomization,
                mit.num_randomizations_auto and self.noise is not None,
            )
        else:
            self.randomizations, self.shots_per_binding = 1, shots
        rng = np.random.default_rng([seed, 7])
        self.flips = (
            rng.integers(0, 2, size=(self.randomizations, width))
            if self.twirled
            else np.zeros((self.randomizations, width), dtype=int)
        )
        self.rng = rng
        if self.trex:
            assert mit is not None  # TREX is a mitigation option
            self.calibration_flips = rng.integers(0, 2, size=(mit.measure_noise_learning_num_randomizations, width))

    def _shares_prefix(self, backend: LocalBackend) -> bool:
        """Whether the randomisations of a measurement twirl can share the simulation of the
        circuit before it: nothing else is randomised (no gate twirling, PEC or PEA), and each
        binding would be a small density matrix anyway (see
        :func:`~qrt_runner.simulation.task.resolve_method`). The circuit is then simulated once per
        noise factor and parameter set, and every randomisation continues from its density matrix
        with only the basis change, the twirled measurement and the readout (the same distribution
        of outcomes as the whole circuit)."""
        mit = self.mitigation
        if mit is None or not self.twirled or self.twirl_gates or mit.needs_layer_noise or backend.device is None:
            return False
        width = self.isa.circuit.num_qubits
        randomizations, per = randomizations_for(self.shots, mit.num_randomizations, mit.shots_per_randomization, False)
        return (
            width <= PREFIX_MAX_QUBITS
            and randomizations > 1
            and resolve_method(backend.method, True, width, per) == "density_matrix"
        )

    def _signature(self, backend: LocalBackend) -> str:
        """What the circuits depend on besides the ISA circuit and the Paulis."""
        mit = self.mitigation
        signature = "exact" if self.shots == 0 else "measured"
        if mit is None:
            return signature
        signature += f"|prefix{self.share_prefix}"
        signature += f"|zne{self.factors}{mit.zne_amplifier if mit.zne_mitigation else ''}|twirl{self.twirled}{self.twirl_gates}|trex{self.trex}"
        if self.twirl_gates:
            signature += f"|{mit.strategy}"
        if mit.dd_enable:
            signature += f"|dd{mit.dd_sequence_type}{mit.dd_scheduling_method}{mit.dd_extra_slack_distribution}{mit.dd_skip_reset_qubits}"
        if mit.needs_layer_noise:
            path = mit.layer_noise_model
            version = Path(path).stat().st_mtime if path else backend.name
            signature += f"|layers{path}{version}|pec{mit.pec_mitigation}{mit.pec_noise_gain}{mit.pec_max_overhead}"
        return signature

    # -- circuits -------------------------------------------------------------------------
    def _build_circuits(self, paulis: list[str], backend: LocalBackend):
        """(groups, circuits per noise factor and basis, TREX calibration circuit or None,
        layer noise plan or None, PEC noise gain or None, prefixes): with shared prefixes the
        circuits are only the measurements, continued from the prefix of their noise factor."""
        if self.shots == 0:
            circuit = self.isa.circuit.copy()
            for label in paulis:
                circuit.save_expectation_value(Pauli(label), list(range(circuit.num_qubits)), label=label)
            return [paulis], [circuit], None, None, None, []
        groups = [g.to_labels() for g in PauliList(paulis).group_qubit_wise_commuting()] if paulis else []
        mit = self.mitigation
        templates = []
        for factor in self.factors:
            base = self.isa.circuit
            if factor != 1.0 and mit is not None and mit.zne_amplifier != "pea":  # factors other than 1: ZNE
                base = fold_two_qubit_gates(base, factor, mit.zne_amplifier, backend.seed_simulator)
            if mit is not None and mit.dd_enable:
                base = add_dynamical_decoupling(
                    base,
                    backend.compact_target(self.isa.physical_qubits),
                    mit.dd_sequence_type,
                    mit.dd_scheduling_method,
                    mit.dd_extra_slack_distribution,
                    mit.dd_skip_reset_qubits,
                )
            if self.twirl_gates:
                assert mit is not None  # twirling is a mitigation option
                base = twirl_template(base, mit.strategy)
            templates.append(base)
        noise, gain = None, None
        if mit is not None and mit.needs_layer_noise and groups:
            source = layer_noise_source(mit.layer_noise_model, backend.name if backend.device is not None else None)
            noise = LayerNoisePlan(templates[0], self.isa.physical_qubits, source)
            if mit.pec_mitigation:
                gain = noise.pec_gain(mit.pec_noise_gain, mit.pec_max_overhead)
                sign_qubit = self.isa.circuit.num_qubits
                templates = [with_channels(t, noise.channels(1.0 - gain, sign_qubit), sign=True) for t in templates]
            else:
                templates = [
                    with_channels(t, noise.channels(factor - 1.0), sign=False)
                    for t, factor in zip(templates, self.factors)
                ]
        prefixes = []
        if self.share_prefix and groups:
            prefixes, templates = templates, [QuantumCircuit(self.isa.circuit.num_qubits) for _ in templates]
        circuits = [self._measurement_circuit(base, group, backend) for base in templates for group in groups]
        calibration = None
        if self.trex and groups:
            measured = sorted({q for c in circuits for q in c.metadata["qrt_measured_qubits"]})
            calibration = self._twirled_measurement(
                QuantumCircuit(self.isa.circuit.num_qubits), measured, "qrt_cal", backend
            )
        return groups, circuits, calibration, noise, gain, prefixes

    def _measurement_circuit(self, base: QuantumCircuit, group: list[str], backend: LocalBackend):
        width = self.isa.circuit.num_qubits
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
        return measure_sign(self._twirled_measurement(circuit, measured, "qrt_meas", backend))

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
    def _values(self, circuit: QuantumCircuit, flips: np.ndarray, with_user: bool) -> np.ndarray | None:
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
            for name, angles in twirl_angles(circuit, repeats, self.rng).items():
                columns[name] = np.tile(angles, sets)
        names = [p.name for p in circuit.parameters]
        if not names:
            return None
        return np.stack([columns[name] for name in names], axis=1)

    def sim_task(self, backend: LocalBackend, seed: int) -> SimTask:
        """One task: the PUB's circuits, then the TREX calibration circuit (if any)."""
        circuits = list(self.circuits)
        values = [self._values(c, self.flips, True) for c in self.circuits]
        keys = [f"{self.cache_key}|{i}" for i in range(len(self.circuits))]
        shots = self.shots_per_binding if self.shots else 0
        circuit_shots = [shots] * len(circuits)
        if self.calibration is not None:
            circuits.append(self.calibration)
            values.append(self._values(self.calibration, self.calibration_flips, False))
            keys.append(f"{self.cache_key}|cal")
            assert self.mitigation is not None  # the calibration is TREX's, a mitigation option
            circuit_shots.append(self.mitigation.measure_noise_learning_shots_per_randomization)
        prefix_of = rows_per_set = None
        if self.prefixes:
            first = len(circuits)
            groups = max(len(self.groups), 1)
            prefix_of = [first + i // groups for i in range(len(self.circuits))] + [None] * (
                len(circuits) - len(self.circuits)
            )
            prefix_of += [None] * len(self.prefixes)
            rows_per_set = [self.randomizations] * len(prefix_of)
            user = self.flat_values if self.flat_values.size else None
            for f, prefix in enumerate(self.prefixes):
                circuits.append(prefix)
                values.append(user)
                keys.append(f"{self.cache_key}|prefix{f}")
                circuit_shots.append(shots)
        return SimTask(
            kind="expval" if self.shots == 0 else "counts",
            device=backend.name if backend.device is not None else None,
            qubits=self.isa.physical_qubits,
            method=backend.method,
            threads=backend.threads,
            seed=seed,
            shots=shots,
            circuits=circuits,
            parameter_values=values,
            circuit_keys=keys,
            circuit_shots=None if len(set(circuit_shots)) <= 1 else circuit_shots,
            prefix_of=prefix_of,
            rows_per_set=rows_per_set,
            call_groups=[1 if key.endswith("|cal") else 0 for key in keys],
        )

    # -- combining --------------------------------------------------------------------------
    def _calibration_factors(self, rows: list[tuple[np.ndarray, np.ndarray]]) -> dict[str, tuple[float, float]]:
        """TREX: per Pauli, the measured <Z...Z> of |0...0> with twirled readout (ideal: 1)."""
        labels = sorted(set(self.labels))
        masks = np.array([parity_mask(label, self.calibration) for label in labels], dtype=np.int64)
        values, weights = shot_values(rows, self.calibration_flips, self.calibration, masks)
        means, cov = mean_and_covariance(values, weights)
        return {label: (float(m), float(np.sqrt(v))) for label, m, v in zip(labels, means, np.diag(cov))}

    def _term_data(self, rows_per_circuit: list, calibration) -> TermData:
        """Means and covariances of every measured Pauli term per noise factor and set."""
        num_groups, num_terms = len(self.groups), len(self.labels)
        means = np.zeros((len(self.factors), self.num_sets, num_terms))
        cov = np.zeros((len(self.factors), self.num_sets, num_terms, num_terms))
        repeats = len(self.flips)
        gamma = self.noise.gamma(self.gain) if self.pec and self.noise is not None else 1.0
        start = 0
        for g, group in enumerate(self.groups):
            span = slice(start, start + len(group))
            start += len(group)
            scale = np.ones(len(group))
            if calibration is not None:
                scale = np.array([calibration[label][0] for label in group])
                scale = np.where(np.abs(scale) > 1e-3, scale, 1e-3)
            for f in range(len(self.factors)):
                circuit, rows = self.circuits[f * num_groups + g], rows_per_circuit[f * num_groups + g]
                if self.shots == 0:
                    for index, data in enumerate(rows):
                        means[f, index, span] = [data[label] for label in group]
                    continue
                masks = np.array([parity_mask(label, circuit) for label in group], dtype=np.int64)
                for index in range(self.num_sets):
                    chunk = rows[index * repeats : (index + 1) * repeats]
                    values, weights = shot_values(chunk, self.flips, circuit, masks, gamma)
                    mean, covariance = mean_and_covariance(values / scale, weights)
                    means[f, index, span], cov[f, index, span, span] = mean, covariance
        return TermData(means, cov)

    def combine(self, outputs: list) -> PubResult:
        """Per-PUB evs and stds from the output of :meth:`sim_task`."""
        started = time.perf_counter()
        (output,) = outputs
        calibration = self._calibration_factors(output[len(self.circuits)]) if self.calibration is not None else None
        data = self._term_data(output[: len(self.circuits)], calibration)
        metadata = {
            "target_precision": self.pub.precision,
            "shots": self.shots,
            "num_bases": len(self.groups) if self.shots else 0,
            "circuit_metadata": self.pub.circuit.metadata,
        }
        mit = self.mitigation
        if mit is not None and mit.zne_mitigation:
            evs, stds, zne = extrapolate_pub(
                self.factors,
                data,
                self.coeffs,
                self.identity,
                self.bounds,
                mit.zne_extrapolator,
                mit.zne_extrapolated_noise_factors,
                mit.zne_extrapolator_choice,
                mit.zne_extrapolate_per_term,
                self.labels,
            )
        else:
            evs_f, stds_f = data.observables(self.coeffs, self.identity)
            evs, stds, zne = evs_f[0], stds_f[0], None
        if mit is not None:
            metadata["mitigation"] = self._diagnostics(calibration, zne, getattr(output, "seconds", []))
            metadata["mitigation"].update(build_s=self.build_s, combine_s=time.perf_counter() - started)
        param_index = np.arange(self.num_sets).reshape(self.param_shape) if self.param_shape else np.array(0)
        obs_index = np.arange(len(self.obs_terms)).reshape(self.pub.observables.shape)
        p_idx, o_idx = np.broadcast_arrays(param_index, obs_index)
        result = DataBin(evs=evs[p_idx, o_idx], stds=stds[p_idx, o_idx], shape=self.pub.shape)
        return PubResult(result, metadata=metadata)

    def multipliers(self) -> dict[str, Any]:
        """What the shots of the PUB are made of: per parameter set, measurement bases x noise
        factors x randomisations x shots per randomisation, plus the TREX calibration."""
        mit = self.mitigation
        out: dict[str, Any] = {"shots_per_basis": self.shots, "measurement_bases": len(self.groups)}
        if self.shots == 0:
            return {"exact": True, "measurement_bases": 0}
        if mit is not None:
            out["noise_factors"] = list(self.factors)
            out["randomizations"] = self.randomizations
            out["shots_per_randomization"] = self.shots_per_binding
            if self.pec and self.noise is not None:
                out["pec_sampling_overhead"] = round(self.noise.overhead(self.gain), 4)
            if self.calibration is not None:
                out["trex_calibration_shots"] = (
                    mit.measure_noise_learning_num_randomizations * mit.measure_noise_learning_shots_per_randomization
                )
        return out

    def roles(self) -> list[str]:
        """The technique of every circuit of :meth:`sim_task`: the circuits at the first noise
        factor (``pec`` for PEC), the other noise factors (``zne`` or ``pea``), the TREX
        calibration (``trex``), then the prefixes (as their noise factor)."""
        mit, groups = self.mitigation, max(len(self.groups), 1)
        amplified = "pea" if mit is not None and mit.pea else "zne"
        roles = ["pec" if self.pec else ("circuits" if i < groups else amplified) for i in range(len(self.circuits))]
        if self.calibration is not None:
            roles.append("trex")
        roles += ["circuits" if f == 0 else amplified for f in range(len(self.prefixes))]
        return roles

    def _simulate_s(self, seconds: list[float]) -> dict[str, float]:
        """Simulator seconds per technique (see :meth:`roles`)."""
        out: dict[str, float] = {}
        for role, taken in zip(self.roles(), seconds):
            out[role] = out.get(role, 0.0) + taken
        return out

    def _diagnostics(self, calibration, zne: dict | None, seconds: list[float]) -> dict:
        mit = self.mitigation
        by_technique = self._simulate_s(seconds)
        out = {
            "num_circuits": len(self.circuits) + (self.calibration is not None),
            "num_randomizations": self.randomizations,
            "shots_per_randomization": self.shots_per_binding,
            "shots_spent": int(
                self.shots_per_binding * self.randomizations * len(self.circuits) * self.num_sets
                + (
                    mit.measure_noise_learning_num_randomizations * mit.measure_noise_learning_shots_per_randomization
                    if self.calibration is not None and mit is not None  # the calibration is TREX's
                    else 0
                )
            ),
            "simulate_s": float(sum(seconds)),
            "simulate_s_by_technique": by_technique,
        }
        if calibration is not None:
            out["trex_calibration"] = {label: value for label, (value, _) in calibration.items()}
        if self.noise is not None:
            out["layer_noise_model"] = self.noise.describe()
        if self.pec and self.noise is not None:
            assert mit is not None  # PEC is a mitigation option
            out["pec"] = {
                "noise_gain": self.gain,
                "gamma": self.noise.gamma(self.gain),
                "sampling_overhead": self.noise.overhead(self.gain),
                "max_overhead": mit.pec_max_overhead,
            }
        if zne is not None:
            assert mit is not None  # ZNE is a mitigation option
            out.update(noise_factors=list(self.factors), extrapolator_choice=mit.zne_extrapolator_choice, **zne)
        return out


class Estimator(BaseEstimatorV2):
    """Qiskit's V2 Estimator on a :class:`LocalBackend`, run as jobs of an execution mode.

    Args:
        backend: the local backend (ideal or fake device).
        mode: a session or batch; None runs each job on its own (job mode).
        options: default precision/shots and the job time limit.
    """

    def __init__(
        self, backend: LocalBackend, mode: ExecutionMode | None = None, options: EstimatorOptions | None = None
    ):
        self.backend = backend
        self.mode = mode or ExecutionMode("job", backend.executor)
        self.options = options or EstimatorOptions()

    def run(self, pubs: Iterable[EstimatorPubLike], *, precision: float | None = None) -> LocalJob:
        planned = self.plan(pubs, precision=precision, seed=self.backend.next_seed())
        return self.mode.submit(planned.tasks, planned.postprocess, self.options.max_execution_time, planned.cost)

    def plan(
        self, pubs: Iterable[EstimatorPubLike], *, precision: float | None = None, seed: int | None = None
    ) -> Planned:
        """The simulator tasks of a job on ``pubs``, how to combine their outputs, and the job's
        cost (circuits, shots, estimated QPU time), without running anything."""
        if precision is None:
            precision = self.options.default_precision
        coerced = [EstimatorPub.coerce(pub, precision) for pub in pubs]
        seed = self.backend.seed_simulator if seed is None else seed
        plans = []
        for pub in coerced:
            if pub.precision == 0 and self.backend.device is not None and self.options.default_shots is None:
                raise ValueError(
                    f"precision 0 (exact) is only available on the ideal simulator, not {self.backend.name}"
                )
            shots = self.options.default_shots or shots_for_precision(pub.precision)
            isa = self.backend.compiler.compile(pub.circuit)
            plans.append(_PubPlan(pub, isa, self.backend, shots, self.options.mitigation, seed))
        tasks = [plan.sim_task(self.backend, seed) for plan in plans]

        def postprocess(outputs):
            results = [plan.combine([output]) for plan, output in zip(plans, outputs)]
            return PrimitiveResult(results, metadata={"version": 2, "seed_simulator": seed})

        return Planned(
            tasks,
            postprocess,
            job_cost(tasks, [plan.roles() for plan in plans], self.backend.device),
            plans[0].multipliers() if plans else None,
        )
