"""A local Estimator (``BaseEstimatorV2``): Pauli expectation values from measured shots.

Like the hardware service, it measures each qubit-wise commuting group of Pauli terms in its
own basis, ``ceil(1/precision**2)`` shots per basis, and reports the mean and the standard error
computed from those shots. With precision 0 on the ideal simulator it returns exact values.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from qiskit import ClassicalRegister
from qiskit.primitives import BaseEstimatorV2, DataBin, PrimitiveResult, PubResult
from qiskit.primitives.containers.estimator_pub import EstimatorPub, EstimatorPubLike
from qiskit.quantum_info import Pauli, PauliList

from qrt_runner.backend import LocalBackend
from qrt_runner.modes import ExecutionMode, LocalJob
from qrt_runner.simulation.task import SimTask
from qrt_runner.transpile import IsaCircuit


@dataclass
class EstimatorOptions:
    """Leaf names as in ``qiskit_ibm_runtime.options_models.EstimatorOptions``."""

    default_precision: float = 0.015625
    default_shots: int | None = None
    max_execution_time: float = 10800.0


def _compact_label(label: str, logical_to_compact: tuple[int, ...], width: int) -> str:
    letters = ["I"] * width
    for logical, letter in enumerate(reversed(label)):
        if letter != "I":
            letters[width - 1 - logical_to_compact[logical]] = letter
    return "".join(letters)


class _PubPlan:
    """The measurement circuits of one PUB and how to turn their counts into evs and stds."""

    def __init__(self, pub: EstimatorPub, isa: IsaCircuit, backend: LocalBackend, shots: int):
        self.pub, self.isa, self.shots = pub, isa, shots
        width = isa.circuit.num_qubits
        self.obs_terms = [
            {_compact_label(label, isa.logical_to_compact, width): coeff for label, coeff in element.items()}
            for element in pub.observables.ravel().tolist()
        ]
        identity = "I" * width
        paulis = sorted({label for terms in self.obs_terms for label in terms if label != identity})
        self.identity = np.array([terms.get(identity, 0.0) for terms in self.obs_terms], dtype=float).real
        self.values = pub.parameter_values.as_array([p.name for p in isa.circuit.parameters])
        self.param_shape = pub.parameter_values.shape
        flat_values = self.values.reshape(-1, self.values.shape[-1]) if self.values.size else None
        cache_key = f"{isa.fingerprint}|{'exact' if shots == 0 else 'measured'}|" + hashlib.sha256(",".join(paulis).encode()).hexdigest()[:16]
        cached = backend.measurement_circuits.get(cache_key)
        if cached is None:
            cached = backend.measurement_circuits[cache_key] = self._build_circuits(paulis, backend)
        self.groups, self.circuits = cached
        self.circuit_keys = [f"{cache_key}|{index}" for index in range(len(self.circuits))]
        self.parameter_values = [flat_values] * len(self.circuits)

    def _build_circuits(self, paulis: list[str], backend: LocalBackend):
        """The circuits to run: one with saved expectation values (exact) or one per basis."""
        if self.shots == 0:
            circuit = self.isa.circuit.copy()
            for label in paulis:
                circuit.save_expectation_value(Pauli(label), list(range(circuit.num_qubits)), label=label)
            return [paulis], [circuit]
        groups = [g.to_labels() for g in PauliList(paulis).group_qubit_wise_commuting()] if paulis else []
        return groups, [self._measurement_circuit(group, backend) for group in groups]

    def _measurement_circuit(self, group: list[str], backend: LocalBackend):
        width = self.isa.circuit.num_qubits
        basis = ["I"] * width
        for label in group:
            for qubit, letter in enumerate(reversed(label)):
                if letter != "I":
                    basis[qubit] = letter
        measured = [q for q in range(width) if basis[q] != "I"]
        circuit = self.isa.circuit.copy()
        register = ClassicalRegister(len(measured), "qrt_meas")
        circuit.add_register(register)
        for clbit, qubit in enumerate(measured):
            if basis[qubit] in "XY":
                change = backend.basis_change(basis[qubit])
                for instruction in change.data:
                    circuit.append(instruction.operation, [circuit.qubits[qubit]], copy=False)
            circuit.measure(qubit, register[clbit])
        circuit.metadata = {**(circuit.metadata or {}), "qrt_measured_qubits": measured}
        return circuit

    def combine(self, outputs: list[list[dict]]) -> PubResult:
        """Per-PUB evs and stds from the per-circuit, per-parameter-set outputs."""
        num_sets = int(np.prod(self.param_shape)) if self.param_shape else 1
        num_obs = len(self.obs_terms)
        evs = np.tile(self.identity, (num_sets, 1))
        variances = np.zeros((num_sets, num_obs))
        for group, circuit, rows in zip(self.groups, self.circuits, outputs):
            coeffs = np.array([[np.real(terms.get(label, 0.0)) for label in group] for terms in self.obs_terms])
            if self.shots == 0:
                for index, data in enumerate(rows):
                    evs[index] += coeffs @ np.array([data[label] for label in group])
                continue
            measured = circuit.metadata["qrt_measured_qubits"]
            masks = np.array([_parity_mask(label, measured) for label in group], dtype=np.int64)
            for index, counts in enumerate(rows):
                outcomes = np.array([int(key, 16) for key in counts], dtype=np.int64)
                weights = np.array(list(counts.values()), dtype=float)
                total = weights.sum()
                signs = 1.0 - 2.0 * (_popcount(outcomes[:, None] & masks[None, :]) & 1)
                per_shot = signs @ coeffs.T
                mean = weights @ per_shot / total
                evs[index] += mean
                if total > 1:
                    variances[index] += weights @ (per_shot - mean) ** 2 / total / (total - 1)
        param_index = np.arange(num_sets).reshape(self.param_shape) if self.param_shape else np.array(0)
        obs_index = np.arange(num_obs).reshape(self.pub.observables.shape)
        p_idx, o_idx = np.broadcast_arrays(param_index, obs_index)
        data = DataBin(evs=evs[p_idx, o_idx], stds=np.sqrt(variances[p_idx, o_idx]), shape=self.pub.shape)
        metadata = {
            "target_precision": self.pub.precision,
            "shots": self.shots,
            "num_bases": len(self.circuits) if self.shots else 0,
            "circuit_metadata": self.pub.circuit.metadata,
        }
        return PubResult(data, metadata=metadata)


def _parity_mask(label: str, measured: list[int]) -> int:
    mask = 0
    for clbit, qubit in enumerate(measured):
        if label[len(label) - 1 - qubit] != "I":
            mask |= 1 << clbit
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
        plans = []
        for pub in coerced:
            if pub.precision == 0 and self.backend.device is not None and self.options.default_shots is None:
                raise ValueError(f"precision 0 (exact) is only available on the ideal simulator, not {self.backend.name}")
            shots = self.options.default_shots or (0 if pub.precision == 0 else int(np.ceil(1 / pub.precision**2 - 1e-9)))
            plans.append(_PubPlan(pub, self.backend.compiler.compile(pub.circuit), self.backend, shots))
        seed = self.backend.next_seed()
        tasks = [
            SimTask(
                kind="expval" if plan.shots == 0 else "counts",
                device=self.backend.name if self.backend.device is not None else None,
                qubits=plan.isa.physical_qubits,
                method=self.backend.method,
                threads=self.backend.threads,
                seed=seed,
                shots=plan.shots,
                circuits=list(plan.circuits),
                parameter_values=plan.parameter_values,
                circuit_keys=plan.circuit_keys,
            )
            for plan in plans
        ]

        def postprocess(outputs):
            return PrimitiveResult(
                [plan.combine(output) for plan, output in zip(plans, outputs)], metadata={"version": 2, "seed_simulator": seed}
            )

        return self.mode.submit(tasks, postprocess, self.options.max_execution_time)
