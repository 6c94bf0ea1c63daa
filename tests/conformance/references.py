"""Reference computations: what qrt_runner's numbers must be.

- :func:`branch_sum`: the exact state of a circuit with measurements, resets and ``if_else``, as
  one unnormalised density matrix per value of the classical bits (measurement branches summed,
  nothing sampled). Written here from the definitions, independent of Aer and of qrt_runner.
- :func:`exact_evs` / :func:`exact_distributions`: a PUB's exact expectation values (Pauli and
  projector labels) and outcome distributions from the branch sum.
- :func:`qiskit_evs`: ``qiskit.primitives.StatevectorEstimator`` on a unitary circuit (projector
  labels expanded into Paulis first: Qiskit's estimator evaluates Pauli terms only).
- :func:`qiskit_sampler_result`: ``StatevectorSampler``'s result, for its data-bin structure.
- :func:`noisy_device_counts`: Aer on the full fake device (``AerSimulator.from_backend``), the
  noisy reference of a sampler at resilience level 0.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
from qiskit import QuantumCircuit
from qiskit.circuit import ClassicalRegister, Clbit, ControlFlowOp, IfElseOp
from qiskit.primitives import StatevectorEstimator, StatevectorSampler
from qiskit.primitives.containers.bindings_array import BindingsArray
from qiskit.primitives.containers.estimator_pub import EstimatorPub
from qiskit.primitives.containers.sampler_pub import SamplerPub
from qiskit.quantum_info import DensityMatrix, Operator, SparseObservable, SparsePauliOp, Statevector

_LETTERS = {
    "I": np.eye(2),
    "X": np.array([[0, 1], [1, 0]]),
    "Y": np.array([[0, -1j], [1j, 0]]),
    "Z": np.diag([1, -1]),
    "0": np.diag([1, 0]),
    "1": np.diag([0, 1]),
    "+": np.full((2, 2), 0.5),
    "-": np.array([[0.5, -0.5], [-0.5, 0.5]]),
    "r": np.array([[0.5, -0.5j], [0.5j, 0.5]]),
    "l": np.array([[0.5, 0.5j], [-0.5j, 0.5]]),
}
_P0, _P1 = np.diag([1.0, 0.0]), np.diag([0.0, 1.0])
_LOWER = np.array([[0.0, 1.0], [0.0, 0.0]])  # |0><1|: with _P0, the Kraus operators of a reset
IGNORED = {"barrier", "delay"}


def is_unitary(circuit: QuantumCircuit) -> bool:
    """No measurement, reset or control flow (idle classical registers are allowed)."""
    return not any(
        inst.operation.name in ("measure", "reset") or isinstance(inst.operation, ControlFlowOp)
        for inst in circuit.data
    )


# -- density-matrix branch sum -------------------------------------------------------------------


def _apply(rho: np.ndarray, n: int, matrix: np.ndarray, qubits: list[int]) -> np.ndarray:
    """``matrix @ rho @ matrix^dagger`` with ``matrix`` on ``qubits`` (Qiskit's little-endian order:
    ``qubits[0]`` is the least significant index of ``matrix``)."""
    k = len(qubits)
    m = np.asarray(matrix, dtype=complex).reshape([2] * (2 * k))
    tensor = rho.reshape([2] * (2 * n))
    for offset, mat in ((0, m), (n, m.conj())):
        axes = [offset + n - 1 - q for q in reversed(qubits)]
        tensor = np.tensordot(mat, tensor, axes=(list(range(k, 2 * k)), axes))
        tensor = np.moveaxis(tensor, list(range(k)), axes)
    return tensor.reshape(2**n, 2**n)


def _condition_holds(bits: int, condition, clbit_index) -> bool:
    target, value = condition
    if isinstance(target, Clbit):
        return ((bits >> clbit_index(target)) & 1) == value
    if isinstance(target, ClassicalRegister):
        register_value = sum(((bits >> clbit_index(bit)) & 1) << j for j, bit in enumerate(target))
        return register_value == value
    raise NotImplementedError(f"reference: conditions on {type(target).__name__} are not modelled")


def _evolve(
    circuit: QuantumCircuit, n: int, qubit_map: list[int], clbit_map: list[int], branches: dict[int, np.ndarray]
) -> dict[int, np.ndarray]:
    """Apply ``circuit`` (whose qubit i is ``qubit_map[i]`` and clbit j is ``clbit_map[j]`` of the
    whole circuit) to every branch."""
    for inst in circuit.data:
        op = inst.operation
        qubits = [qubit_map[circuit.find_bit(q).index] for q in inst.qubits]
        clbits = [clbit_map[circuit.find_bit(c).index] for c in inst.clbits]
        if op.name in IGNORED:
            continue
        if op.name == "measure":
            branches = _measure(branches, n, qubits[0], clbits[0])
        elif op.name == "reset":
            (qubit,) = qubits
            branches = {
                bits: _apply(rho, n, _P0, [qubit]) + _apply(rho, n, _LOWER, [qubit]) for bits, rho in branches.items()
            }
        elif isinstance(op, IfElseOp):
            taken: dict[int, np.ndarray] = {}
            other: dict[int, np.ndarray] = {}
            for bits, rho in branches.items():
                holds = _condition_holds(bits, op.condition, lambda b: clbit_map[circuit.find_bit(b).index])
                (taken if holds else other)[bits] = rho
            true_body, false_body = op.blocks[0], (op.blocks[1] if len(op.blocks) > 1 else None)
            if taken:
                taken = _evolve(true_body, n, qubits, clbits, taken)
            if other and false_body is not None:
                other = _evolve(false_body, n, qubits, clbits, other)
            branches = _merge(taken, other)
        elif isinstance(op, ControlFlowOp):
            raise NotImplementedError(f"reference: {op.name} is not modelled")
        else:
            matrix = Operator(op).data
            branches = {bits: _apply(rho, n, matrix, qubits) for bits, rho in branches.items()}
    return branches


def _measure(branches: dict[int, np.ndarray], n: int, qubit: int, clbit: int) -> dict[int, np.ndarray]:
    split: dict[int, np.ndarray] = {}
    for bits, rho in branches.items():
        for outcome, projector in ((0, _P0), (1, _P1)):
            part = _apply(rho, n, projector, [qubit])
            if abs(np.trace(part)) > 1e-15:
                split = _merge(split, {(bits & ~(1 << clbit)) | (outcome << clbit): part})
    return split


def _merge(first: dict[int, np.ndarray], second: dict[int, np.ndarray]) -> dict[int, np.ndarray]:
    out = dict(first)
    for bits, rho in second.items():
        out[bits] = out[bits] + rho if bits in out else rho
    return out


def branch_sum(circuit: QuantumCircuit) -> dict[int, np.ndarray]:
    """The exact final state of a bound circuit: {classical bits as an int (bit i = clbit i):
    unnormalised density matrix}; the traces are the probabilities of the bit values."""
    if circuit.num_parameters:
        raise ValueError("branch_sum needs a bound circuit")
    n = circuit.num_qubits
    rho = np.zeros((2**n, 2**n), dtype=complex)
    rho[0, 0] = 1.0
    return _evolve(circuit, n, list(range(n)), list(range(circuit.num_clbits)), {0: rho})


# -- observables ---------------------------------------------------------------------------------


def label_matrix(label: str) -> np.ndarray:
    """The matrix of a Pauli or projector label (the last letter acts on qubit 0)."""
    matrix = np.ones((1, 1), dtype=complex)
    for letter in label:
        matrix = np.kron(matrix, _LETTERS[letter])
    return matrix


def terms_of(observable) -> dict[str, float]:
    """One element of an ``ObservablesArray`` (or anything it coerces) as {label: coeff}."""
    if isinstance(observable, dict):
        return {label: float(np.real(coeff)) for label, coeff in observable.items()}
    from qiskit.primitives.containers.observables_array import ObservablesArray

    (element,) = ObservablesArray.coerce([observable]).ravel().tolist()
    return {label: float(np.real(coeff)) for label, coeff in element.items()}


def norm_bound(terms: dict[str, float]) -> float:
    """sum |coeff|: a bound on |<O>| and on how far any two estimates of it can be apart (every
    Pauli or projector label has operator norm 1)."""
    return float(sum(abs(c) for c in terms.values()))


def expectation(rho: np.ndarray, terms: dict[str, float]) -> float:
    total = 0.0
    for label, coeff in terms.items():
        total += coeff * float(np.real(np.sum(rho * label_matrix(label).T)))
    return total


def _as_paulis(terms: dict[str, float]) -> SparsePauliOp:
    n = len(next(iter(terms)))
    total = SparsePauliOp("I" * n, 0.0)
    for label, coeff in terms.items():
        total += coeff * SparsePauliOp.from_sparse_observable(SparseObservable.from_label(label).as_paulis())
    return total.simplify(atol=0)


# -- estimator references ------------------------------------------------------------------------


def _broadcast(pub: EstimatorPub) -> tuple[np.ndarray, np.ndarray]:
    """(bound circuits, observable term dicts), broadcast to the PUB's shape."""
    bound = pub.parameter_values.bind_all(pub.circuit)
    terms = np.empty(pub.observables.shape, dtype=object)
    flat = pub.observables.ravel().tolist()
    for index, element in zip(np.ndindex(pub.observables.shape), flat):
        terms[index] = {label: float(np.real(c)) for label, c in element.items()}
    return np.broadcast_arrays(bound, terms)


def exact_evs(pub: EstimatorPub) -> np.ndarray:
    """The PUB's exact expectation values from the density-matrix branch sum."""
    circuits, terms = _broadcast(pub)
    evs = np.zeros(circuits.shape, dtype=float)
    states: dict[int, np.ndarray] = {}
    for index in np.ndindex(circuits.shape):
        key = id(circuits[index])
        if key not in states:
            states[key] = sum(branch_sum(circuits[index]).values())
        evs[index] = expectation(states[key], terms[index])
    return evs


def branch_spread(pub: EstimatorPub) -> float:
    """The largest variance, over the measurement branches, of any value of the PUB: 0 when
    every branch (every trajectory of a sampler) gives the exact value, so that a single sampled
    trajectory passed off as exact cannot be told from it."""
    circuits, terms = _broadcast(pub)
    spread = 0.0
    for index in np.ndindex(circuits.shape):
        branches = branch_sum(circuits[index])
        probs = {bits: float(np.real(np.trace(rho))) for bits, rho in branches.items()}
        values = {
            bits: expectation(rho, terms[index]) / probs[bits] for bits, rho in branches.items() if probs[bits] > 0
        }
        mean = sum(probs[b] * v for b, v in values.items())
        spread = max(spread, sum(probs[b] * (v - mean) ** 2 for b, v in values.items()))
    return spread


def norm_bounds(pub: EstimatorPub) -> np.ndarray:
    """:func:`norm_bound` of every observable, broadcast to the PUB's shape."""
    _, terms = _broadcast(pub)
    return np.vectorize(norm_bound, otypes=[float])(terms) if terms.size else np.zeros(terms.shape)


def identity_only(pub: EstimatorPub) -> np.ndarray:
    """Per result element: whether the observable is a multiple of the identity (then its value
    is exact, std 0, on any backend)."""
    _, terms = _broadcast(pub)
    out = np.zeros(terms.shape, dtype=bool)
    for index in np.ndindex(terms.shape):
        paulis = _as_paulis(terms[index])
        out[index] = all(set(p.to_label()) <= {"I"} for p, c in zip(paulis.paulis, paulis.coeffs) if abs(c) > 1e-12)
    return out


def qiskit_estimator_result(pub: EstimatorPub):
    """``StatevectorEstimator``'s result (precision 0) for a PUB of a unitary circuit, projector
    labels expanded into Paulis."""
    expanded = np.empty(pub.observables.shape, dtype=object)
    for index, element in zip(np.ndindex(pub.observables.shape), pub.observables.ravel().tolist()):
        expanded[index] = _as_paulis(dict(element))
    observables = expanded.tolist() if expanded.shape else expanded[()]
    return StatevectorEstimator().run([(pub.circuit, observables, pub.parameter_values, 0.0)]).result()[0]


def density_matrix_evs(pub: EstimatorPub) -> np.ndarray:
    """``qiskit.quantum_info.DensityMatrix`` evolution (resets included; no measurements or control
    flow), for a check of the branch sum on resets."""
    circuits, terms = _broadcast(pub)
    evs = np.zeros(circuits.shape, dtype=float)
    for index in np.ndindex(circuits.shape):
        state = DensityMatrix(circuits[index].remove_final_measurements(inplace=False))
        evs[index] = sum(
            c * state.expectation_value(_as_paulis({label: 1.0})).real for label, c in terms[index].items()
        )
    return evs


def qiskit_evs(pub: EstimatorPub) -> np.ndarray:
    """:func:`qiskit_estimator_result`'s expectation values."""
    return np.asarray(qiskit_estimator_result(pub).data.evs)


# -- sampler references --------------------------------------------------------------------------


def rebind(values: BindingsArray, circuit: QuantumCircuit) -> BindingsArray:
    """``values`` (bound by parameter name) for ``circuit``, which may have fewer parameters than
    the circuit they were given for (a transpiler drops a parameter whose gate it removes)."""
    names = sorted({name for key in values.data for name in key})
    array = values.as_array(names) if names else np.zeros(values.shape + (0,))
    wanted = [p.name for p in circuit.parameters]
    columns = [names.index(name) for name in wanted]
    if not wanted:
        return BindingsArray(shape=values.shape)
    return BindingsArray({tuple(wanted): array[..., columns]})


def exact_distributions(pub: SamplerPub) -> list[dict[int, float]]:
    """Per parameter set (in ``np.ndindex`` order of the PUB's shape), the exact probability of every
    value of the classical bits (an int, bit i = clbit i; bits never written stay 0)."""
    bound = pub.parameter_values.bind_all(pub.circuit)
    out = []
    for index in np.ndindex(bound.shape):
        branches = branch_sum(bound[index])
        out.append({bits: float(np.real(np.trace(rho))) for bits, rho in branches.items()})
    return out


def statevector_distributions(pub: SamplerPub) -> list[dict[int, float]]:
    """For a unitary circuit whose measurements all come last (each qubit at most once, each bit
    written at most once): the distribution from ``Statevector.probabilities``, for a check of the
    branch sum."""
    bound = pub.parameter_values.bind_all(pub.circuit)
    out = []
    for index in np.ndindex(bound.shape):
        circuit = bound[index]
        pairs = [
            (circuit.find_bit(inst.qubits[0]).index, circuit.find_bit(inst.clbits[0]).index)
            for inst in circuit.data
            if inst.operation.name == "measure"
        ]
        probs = Statevector(circuit.remove_final_measurements(inplace=False)).probabilities([q for q, _ in pairs])
        dist: dict[int, float] = {}
        for outcome, prob in enumerate(probs):
            bits = sum(((outcome >> k) & 1) << clbit for k, (_, clbit) in enumerate(pairs))
            if prob > 1e-15:
                dist[bits] = dist.get(bits, 0.0) + float(prob)
        out.append(dist)
    return out


def qiskit_sampler_result(pub: SamplerPub, shots: int = 8):
    """``StatevectorSampler``'s result for the PUB (its register names, widths, shapes, dtypes), or
    the exception it raises."""
    try:
        return StatevectorSampler(seed=0).run([(pub.circuit, pub.parameter_values, shots)]).result()[0]
    except Exception as exc:  # StatevectorSampler refuses control flow and mid-circuit measurements
        return exc


@lru_cache(maxsize=4)
def _device_simulator(device_name: str):
    from qiskit_aer import AerSimulator

    from qrt_runner.execution.fake_backends import fake_backend

    return AerSimulator.from_backend(fake_backend(device_name), max_parallel_threads=1)


def noisy_device_counts(device_name: str, isa_circuits: list[QuantumCircuit], shots: int, seed: int) -> list[dict]:
    """Aer's counts of bound ISA circuits on the whole fake device (its own noise model), as
    {bits as an int (bit i = clbit i): count}."""
    simulator = _device_simulator(device_name)
    result = simulator.run(isa_circuits, shots=shots, seed_simulator=seed).result()
    out = []
    for k in range(len(isa_circuits)):
        counts = result.get_counts(k)
        out.append({int(key.replace(" ", ""), 2): value for key, value in counts.items()})
    return out


def joined_outcomes(data, circuit: QuantumCircuit, index: tuple[int, ...]) -> np.ndarray:
    """Per shot of parameter set ``index``, the classical bits of every register of ``data`` (a
    sampler DataBin) joined into one int (bit i = clbit i of ``circuit``)."""
    total = None
    for register in circuit.cregs:
        array = data[register.name]
        bits = array[index] if array.shape else array
        unpacked = np.unpackbits(bits.array, axis=-1)[:, ::-1].astype(np.int64)  # column j: bit j
        values = np.zeros(bits.num_shots, dtype=np.int64)
        for j, bit in enumerate(register):
            values |= unpacked[:, j] << circuit.find_bit(bit).index
        total = values if total is None else total | values
    assert total is not None, "the circuit has no classical register"
    return total


def noisy_device_evs(device_name: str, pub: EstimatorPub, shots: int, seed: int):
    """``BackendEstimatorV2`` on Aer's simulation of the whole fake device (its own noise model,
    readout errors included) for a PUB of an ISA circuit: the noisy reference of resilience level 0.
    Its basis changes are noiseless where qrt's are device gates (a few 1e-4 of difference)."""
    from qiskit.primitives import BackendEstimatorV2

    estimator = BackendEstimatorV2(
        backend=_device_simulator(device_name),
        options={"default_precision": 1 / math.sqrt(shots), "seed_simulator": seed},
    )
    return estimator.run([pub]).result()[0]
