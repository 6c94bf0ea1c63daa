"""One estimator PUB's plan: its circuits, and the simulator task that runs them.

:class:`_PubPlan` lays the PUB's observables out on the ISA circuit, groups their Pauli terms
into measurement bases, has the mitigation techniques build their circuits (cached per ISA
circuit and options on the backend) and draw their randomisations, and writes the simulator
task. :mod:`.estimator_results` turns the task's outputs into the PUB's result.
"""

from __future__ import annotations

import hashlib
import math
import time
from typing import Any

import numpy as np
from qiskit import QuantumCircuit
from qiskit.primitives.containers import EstimatorPub
from qiskit.quantum_info import Pauli, PauliList

from qrt_runner.execution.backend import LocalBackend
from qrt_runner.execution.simulation.aer_simulator import resolve_method
from qrt_runner.execution.simulation.task import SimTask
from qrt_runner.execution.transpile import IsaCircuit
from qrt_runner.mitigation.layer_channels import measure_sign, randomizations_for
from qrt_runner.mitigation.measure_twirl import measure_qubits, qubit_flip_angles
from qrt_runner.mitigation.options import EffectiveMitigation
from qrt_runner.mitigation.technique import CIRCUITS, LAYER_NOISE, BuildContext, check_dynamic_circuit
from qrt_runner.mitigation.techniques import estimator_pipeline
from qrt_runner.primitives.dilation import exact_circuit, needs_dilation
from qrt_runner.workload.projectors import pauli_sum

PREFIX_MAX_QUBITS = 8  # a prefix's density matrix travels inside the circuits that continue it
ROW_STATES_BYTES = 256 * 2**20  # the density matrices of one PUB's prefixes shared per randomisation


def _split(per_factor: int, weights) -> list[int]:
    """Shots per randomisation of each noise factor: ``per_factor`` times each weight (mean 1),
    rounded so that they add up to ``per_factor`` per factor (largest remainders first), at least 1."""
    exact = np.asarray(weights, dtype=float) * per_factor
    shots = np.floor(exact).astype(int)
    for index in np.argsort(shots - exact)[: per_factor * len(exact) - int(shots.sum())]:
        shots[index] += 1
    return [max(1, int(s)) for s in shots]


def _thinned(randomizations: int, shots: list[int], weights) -> tuple[list[int], list[int]]:
    """Per noise factor (randomisations, shots per randomisation): ``randomizations`` times its
    weight (rounded up, at least 1) randomisations, each with the shots that keep the factor's
    total (rounded up); every factor all of them when ``weights`` is None."""
    if weights is None or randomizations <= 1:
        return [randomizations] * len(shots), list(shots)
    counts = [min(randomizations, max(1, math.ceil(randomizations * w - 1e-9))) for w in weights]
    return counts, [math.ceil(randomizations * s / c) for s, c in zip(shots, counts)]


def _compact_label(label: str, logical_to_compact: tuple[int, ...], width: int) -> str:
    letters = ["I"] * width
    for logical, letter in enumerate(reversed(label)):
        if letter != "I":
            letters[width - 1 - logical_to_compact[logical]] = letter
    return "".join(letters)


class _PubPlan:
    """The circuits of one PUB, and what turning their outputs into evs and stds needs.

    Without mitigation: one circuit per qubit-wise commuting basis (or one circuit of saved
    expectation values when exact). With mitigation, the enabled techniques
    (:func:`~qrt_runner.mitigation.techniques.estimator_pipeline`) turn the ISA circuit into one
    template per noise factor; each template is measured in every basis (behind flip slots with
    measurement twirling), the techniques add their calibration circuits, and all are bound per
    randomisation. Every circuit of the PUB goes to the simulator in one task; the techniques
    then combine the outputs (:func:`~qrt_runner.primitives.estimator_results.combine`,
    :mod:`qrt_runner.mitigation.technique`).
    """

    def __init__(
        self,
        pub: EstimatorPub,
        isa: IsaCircuit,
        backend: LocalBackend,
        shots: int,
        mitigation: EffectiveMitigation | None,
        seed: int,
        precision: float | None = None,
    ):
        self.pub, self.isa, self.shots = pub, isa, shots
        self.precision = pub.precision if precision is None else precision  # what the shots were sized for
        self.mitigation = mitigation if (mitigation is not None and mitigation.active and shots > 0) else None
        self.techniques = estimator_pipeline(self.mitigation)
        check_dynamic_circuit(self.techniques, isa.circuit)
        width = isa.circuit.num_qubits
        self.obs_terms = [
            {_compact_label(label, isa.logical_to_compact, width): coeff for label, coeff in pauli_sum(element).items()}
            for element in pub.observables.ravel().tolist()
        ]
        identity = "I" * width
        paulis = sorted({label for terms in self.obs_terms for label in terms if label != identity})
        self.identity = np.array([terms.get(identity, 0.0) for terms in self.obs_terms], dtype=float).real
        self.bounds = np.array([sum(abs(c) for c in terms.values()) for terms in self.obs_terms], dtype=float)
        values = isa.parameter_values(pub.parameter_values, pub.circuit)
        self.param_shape = pub.parameter_values.shape
        self.num_sets = int(np.prod(self.param_shape)) if self.param_shape else 1
        self.flat_values = values.reshape(self.num_sets, -1)
        self.factors = next((f for t in self.techniques if (f := t.factors()) is not None), (1.0,))
        self.device = backend.device_info(isa.physical_qubits)
        self.twirl_split = self._twirl_split()
        self.prefix_mode = self._prefix_mode(backend)
        cache_key = (
            f"{isa.fingerprint}|{self._signature()}|" + hashlib.sha256(",".join(paulis).encode()).hexdigest()[:16]
        )
        started = time.perf_counter()
        cached = backend.measurement_circuits.get(cache_key)
        if cached is None:
            cached = backend.measurement_circuits[cache_key] = self._build_circuits(paulis, backend)
        self.groups, self.circuits, self.calibrations, self.notes, self.prefixes, self.template_roles = cached
        self.build_s = time.perf_counter() - started  # ~0 when the circuits were cached
        self.cache_key = cache_key
        self.labels = [label for group in self.groups for label in group]
        self.coeffs = np.array(
            [[np.real(terms.get(label, 0.0)) for label in self.labels] for terms in self.obs_terms]
        ).reshape(len(self.obs_terms), len(self.labels))
        self.randomizations, self.shots_per_binding = self._randomizations()
        weights = next((w for t in self.techniques if (w := t.factor_shot_weights()) is not None), None)
        thinning = next((w for t in self.techniques if (w := t.factor_randomization_weights()) is not None), None)
        self.factor_randomizations, self.factor_shots = _thinned(
            self.randomizations, _split(self.shots_per_binding, weights or [1.0] * len(self.factors)), thinning
        )
        rng = np.random.default_rng([seed, 7])
        for technique in self.techniques:
            technique.size_calibration(*self.twirl_split)
        for technique in self.techniques:  # in pipeline order: measurement flips, then calibration flips
            technique.draw(rng, self.randomizations, isa.circuit)
        drawn = [t.measurement_flips() for t in self.techniques]
        self.flips = next((f for f in drawn if f is not None), np.zeros((self.randomizations, width), dtype=int))
        self.rng = rng  # the gate twirl draws its Paulis from it when the task is built

    def _randomizations(self) -> tuple[int, int]:
        """(randomisations, shots per randomisation) of every circuit of the PUB."""
        mit = self.mitigation
        if mit is None or not any(t.randomizes for t in self.techniques):
            return 1, self.shots
        total_shots = self.shots
        for technique in self.techniques:
            total_shots = technique.shots(total_shots, self.notes)
        twirl = mit.twirling
        auto = twirl.num_randomizations_auto and self.notes.get(LAYER_NOISE) is not None
        return randomizations_for(total_shots, twirl.num_randomizations, twirl.shots_per_randomization, auto)

    def _twirl_split(self) -> tuple[int, int]:
        """(randomisations, shots per randomisation) the twirl gives the PUB's shots, before any
        technique multiplies them (PEC's sampling overhead)."""
        twirl = self.mitigation.twirling if self.mitigation is not None else None
        if twirl is None or not self.shots:
            return 1, max(self.shots, 1)
        return randomizations_for(self.shots, twirl.num_randomizations, twirl.shots_per_randomization, False)

    def _prefix_mode(self, backend: LocalBackend) -> str:
        """How the PUB's circuits share the simulation of what comes before their measurements,
        where each binding would be a small density matrix anyway (see
        :func:`~qrt_runner.execution.simulation.aer_simulator.resolve_method`):

        * ``set``: no technique randomises that part (gate twirling, PEC and PEA do) and the
          measurements are twirled: it is simulated once per noise factor and parameter set, and
          every randomisation continues from its density matrix with only the basis change, the
          twirled measurement and the readout;
        * ``row``: only techniques whose randomisations differ there by parameters alone (gate
          twirling) randomise it: where the PUB measures in several bases (:meth:`_build_circuits`),
          it is simulated once per noise factor, parameter set and randomisation, and every basis
          continues from it (each basis used to simulate the whole circuit again). The density
          matrices of one PUB stay under :data:`ROW_STATES_BYTES`;
        * ``""``: no sharing.

        Either way every circuit's outcomes are drawn from the same distribution as the whole
        circuit's; with ``row``, the bases of one randomisation share its twirl (each basis's
        twirl is still uniformly random)."""
        mit = self.mitigation
        if mit is None or not backend.noisy or needs_dilation(self.isa.circuit):  # one density matrix would follow
            return ""  # one branch of its measurements
        width = self.isa.circuit.num_qubits
        randomizations, per = self.twirl_split
        if width > PREFIX_MAX_QUBITS or resolve_method(backend.method, True, width, per) != "density_matrix":
            return ""
        if all(t.prefix_safe for t in self.techniques):
            twirled = any(t.twirls_measurement for t in self.techniques)
            return "set" if twirled and randomizations > 1 else ""
        states = len(self.factors) * self.num_sets * randomizations
        if (
            all(t.prefix_safe or t.prefix_per_row for t in self.techniques)
            and states * 16 * 4**width <= ROW_STATES_BYTES
        ):
            return "row"
        return ""

    def _signature(self) -> str:
        """What the circuits depend on besides the ISA circuit and the Paulis."""
        signature = "exact" if self.shots == 0 else "measured"
        if not self.techniques:
            return signature
        return f"{signature}|prefix{self.prefix_mode}" + "".join(
            f"|{t.signature(self.device)}" for t in self.techniques
        )

    # -- circuits -------------------------------------------------------------------------
    def _build_circuits(self, paulis: list[str], backend: LocalBackend):
        """(groups, circuits per noise factor and basis, calibration circuits per technique,
        the techniques' notes, prefixes, role of each noise factor's circuits): with shared
        prefixes the circuits are only the measurements, continued from the prefix of their
        noise factor."""
        if self.shots == 0:
            circuit = exact_circuit(self.isa.circuit)
            qubits = list(range(self.isa.circuit.num_qubits))
            for label in paulis:
                circuit.save_expectation_value(Pauli(label), qubits, label=label)
            return [paulis], [circuit], [], {}, [], [CIRCUITS]
        groups = [g.to_labels() for g in PauliList(paulis).group_qubit_wise_commuting()] if paulis else []
        context = BuildContext(self.device, self.isa.circuit.num_qubits, len(groups))
        templates = [self.isa.circuit] * len(self.factors)
        roles = [CIRCUITS] * len(templates)
        for technique in self.techniques:
            templates = technique.transform(templates, context)
            roles = technique.template_roles(roles)
        prefixes: list[QuantumCircuit] = []
        if (self.prefix_mode == "set" and groups) or (self.prefix_mode == "row" and len(groups) > 1):
            prefixes, templates = templates, [QuantumCircuit(self.isa.circuit.num_qubits) for _ in templates]
        twirled = any(t.twirls_measurement for t in self.techniques)
        circuits = [self._measurement_circuit(base, group, backend, twirled) for base in templates for group in groups]
        calibrations = [t.calibration_circuits(circuits, context) for t in self.techniques]
        return groups, circuits, calibrations, context.notes, prefixes, roles

    def _measurement_circuit(self, base: QuantumCircuit, group: list[str], backend: LocalBackend, twirled: bool):
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
        return measure_sign(measure_qubits(circuit, measured, "qrt_meas", twirled))

    # -- tasks ----------------------------------------------------------------------------
    def _values(self, circuit: QuantumCircuit, randomizations: int | None = None) -> np.ndarray:
        """Rows (set, randomisation) of circuit.parameters: user values, then the techniques'
        slots (measurement flips, gate twirl Paulis drawn now); with ``randomizations``, only the
        first that many of every set (the draws are the same either way)."""
        rows = self._all_values(circuit)
        if randomizations is None or randomizations == len(self.flips):
            return rows
        width = rows.shape[1]
        kept = rows.reshape(self.num_sets, len(self.flips), width)[:, :randomizations]
        return kept.reshape(self.num_sets * randomizations, width)  # (not -1: a circuit may have no parameters)

    def _all_values(self, circuit: QuantumCircuit) -> np.ndarray:
        repeats, sets = len(self.flips), self.num_sets
        columns = {}
        for column, param in enumerate(self.isa.circuit.parameters):
            columns[param.name] = np.repeat(self.flat_values[:, column], repeats)
        columns.update(qubit_flip_angles(self.flips, sets))
        for technique in self.techniques:
            for name, angles in technique.columns(circuit, repeats, self.rng).items():
                columns[name] = np.tile(angles, sets)
        names = [p.name for p in circuit.parameters]
        if not names:  # one row per set and randomisation all the same: the simulator samples each
            return np.zeros((repeats * sets, 0))
        return np.stack([columns[name] for name in names], axis=1)

    def sim_task(self, backend: LocalBackend, seed: int) -> SimTask:
        """One task: the PUB's circuits, then the techniques' calibration circuits, then the prefixes."""
        circuits = list(self.circuits)
        circuit_randomizations = self.circuit_randomizations()
        values: list[np.ndarray | None] = [
            self._values(c, count) for c, count in zip(self.circuits, circuit_randomizations)
        ]
        keys = [f"{self.cache_key}|{i}" for i in range(len(self.circuits))]
        shots = self.shots_per_binding if self.shots else 0
        circuit_shots = self.circuit_shots()
        call_groups = [0] * len(circuits)
        for technique, calibration in zip(self.techniques, self.calibrations):
            for i, circuit in enumerate(calibration):
                rows, calibration_shots = technique.calibration_rows(circuit)
                circuits.append(circuit)
                values.append(rows)
                keys.append(f"{self.cache_key}|cal:{technique.name}:{i}")
                circuit_shots.append(calibration_shots)
                call_groups.append(1)  # a calibration's samples do not depend on the circuits measured
        prefix_of = rows_per_set = None
        if self.prefixes:
            first, groups = len(circuits), max(len(self.groups), 1)
            prefix_of = [first + i // groups for i in range(len(self.circuits))] + [None] * (
                len(circuits) - len(self.circuits)
            )
            prefix_of += [None] * len(self.prefixes)
            per_row = self.prefix_mode == "row"
            rows_per_set = [1 if per_row else count for count in circuit_randomizations]
            rows_per_set += [1] * (len(prefix_of) - len(rows_per_set))
            user = self.flat_values  # zero columns: one prefix per set all the same (see the simulator)
            for f, prefix in enumerate(self.prefixes):
                circuits.append(prefix)
                values.append(self._values(prefix, self.factor_randomizations[f]) if per_row else user)
                keys.append(f"{self.cache_key}|prefix{f}")
                circuit_shots.append(shots)
                call_groups.append(0)
        return SimTask(
            kind="expval" if self.shots == 0 else "counts",
            device=backend.noise_device,
            noise=backend.noise,
            qubits=self.isa.physical_qubits,
            method=backend.method_for(self.isa, self.shots),
            threads=backend.threads,
            seed=seed,
            shots=shots,
            circuits=circuits,
            parameter_values=values,
            circuit_keys=keys,
            circuit_shots=None if len(set(circuit_shots)) <= 1 else circuit_shots,
            prefix_of=prefix_of,
            rows_per_set=rows_per_set,
            call_groups=call_groups,
        )

    def circuit_shots(self) -> list[int]:
        """Shots per randomisation of each of the PUB's circuits (by its noise factor)."""
        if not self.shots:
            return [0] * len(self.circuits)
        groups = max(len(self.groups), 1)
        return [self.factor_shots[i // groups] for i in range(len(self.circuits))]

    def circuit_randomizations(self) -> list[int]:
        """Randomisations of each of the PUB's circuits (by its noise factor)."""
        groups = max(len(self.groups), 1)
        return [self.factor_randomizations[i // groups] for i in range(len(self.circuits))]

    def shots_measured(self) -> int:
        """The shots of the PUB's own circuits (every noise factor, basis, randomisation and set)."""
        per_set = sum(s * r for s, r in zip(self.circuit_shots(), self.circuit_randomizations()))
        return per_set * self.num_sets

    def multipliers(self) -> dict[str, Any]:
        """What the shots of the PUB are made of: per parameter set, measurement bases x noise
        factors x randomisations x shots per randomisation, plus what the techniques add (PEC's
        sampling overhead, the TREX calibration)."""
        out: dict[str, Any] = {"shots_per_basis": self.shots, "measurement_bases": len(self.groups)}
        if self.shots == 0:
            return {"exact": True, "measurement_bases": 0}
        if self.techniques:
            out["noise_factors"] = list(self.factors)
            out["randomizations"] = self.randomizations
            out["shots_per_randomization"] = self.shots_per_binding
            out.update(self.by_factor())
            for technique in self.techniques:
                out.update(technique.multipliers(self.notes))
        return out

    def by_factor(self) -> dict[str, list[int]]:
        """The randomisations and shots per randomisation of each noise factor, where they differ."""
        out = {}
        if len(set(self.factor_randomizations)) > 1:
            out["randomizations_by_factor"] = list(self.factor_randomizations)
        if len(set(self.factor_shots)) > 1:
            out["shots_per_randomization_by_factor"] = list(self.factor_shots)
        return out

    def roles(self) -> list[str]:
        """The technique of every circuit of :meth:`sim_task`: per noise factor its role
        (``circuits`` at the first, ``zne`` or ``pea`` at the others, ``pec`` for PEC), then the
        techniques' calibration circuits (their technique's name: ``trex``), then the prefixes
        (as their noise factor)."""
        groups = len(self.groups)
        roles = [self.template_roles[i // groups] for i in range(len(self.circuits))] if groups else []
        for technique, calibration in zip(self.techniques, self.calibrations):
            roles += [technique.name] * len(calibration)
        roles += [self.template_roles[f] for f in range(len(self.prefixes))]
        return roles
