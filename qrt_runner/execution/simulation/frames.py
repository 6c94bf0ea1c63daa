"""Noisy Clifford circuits sampled by Stim's Pauli-frame simulator.

Aer's stabilizer method simulates a noisy circuit once per shot: at 100 qubits and a few
thousand gates that is 50-100 ms a shot, minutes for one circuit of a mitigated job. A Clifford
circuit under Pauli noise needs only one stabilizer simulation: each shot's errors are Pauli
frames pushed through the circuit, which Stim (``stim``, Google Quantum AI's stabilizer
simulator) does for a batch of shots at once, in bit operations. :func:`stim_circuit` writes an
Aer stabilizer experiment (after :func:`~qrt_runner.execution.simulation.clifford.stabilizer_form`)
and its Pauli noise model as a Stim circuit, the noise where Aer applies it:

* a gate's quantum error right after the gate, as ``PAULI_CHANNEL_1``/``PAULI_CHANNEL_2`` with
  the probabilities of the error's Pauli terms;
* a symmetric readout error as the measurement's flip probability (``M(p)``);
* a ``PauliLindbladError`` (PEA's and PEC's layer noise) as one ``CORRELATED_ERROR`` per
  generator, applied with probability (1 - exp(-2 rate)) / 2, as Aer applies it;
* the noise model's noise passes (relaxation during delays, in Pauli form) are run first, as Aer
  runs them.

Anything else (control flow, conditions, a non-Pauli or non-symmetric error, negative rates,
errors on measurements, Aer save instructions) gives None, and the caller runs Aer.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
from qiskit import QuantumCircuit

from qrt_runner.adapters import qiskit_aer as aer_internals

__all__ = ["available", "sample_memory", "stim_circuit"]

# Qiskit gate -> Stim gate (same qubit order: Stim's CX/CY/CZ take control, target as Qiskit does).
_GATES = {
    "id": "I",
    "x": "X",
    "y": "Y",
    "z": "Z",
    "h": "H",
    "s": "S",
    "sdg": "S_DAG",
    "sx": "SQRT_X",
    "sxdg": "SQRT_X_DAG",
    "cx": "CX",
    "cy": "CY",
    "cz": "CZ",
    "swap": "SWAP",
}
_RZ_QUARTERS = {0: None, 1: "S", 2: "Z", 3: "S_DAG"}
_SKIP = frozenset({"barrier", "delay"})
# Stim's PAULI_CHANNEL_2 argument order: first letter on the first target.
_PAIRS = [a + b for a in "IXYZ" for b in "IXYZ"][1:]


def available() -> bool:
    """Whether Stim can be imported."""
    try:
        import stim  # noqa: F401
    except ImportError:
        return False
    return True


@lru_cache(maxsize=256)
def _gate_program(name: str, params: tuple, num_qubits: int):
    """A Clifford gate Stim has no name for (``ecr``, ``rzz(-pi/2)`` ...) as Stim gates on its own
    qubits 0..n-1, from its tableau; None when it is not Clifford."""
    import stim
    from qiskit.circuit.library import get_standard_gate_name_mapping
    from qiskit.quantum_info import Operator

    gate = get_standard_gate_name_mapping().get(name)
    if gate is None or gate.num_qubits != num_qubits:
        return None
    if params:
        gate = gate.base_class(*params)
    try:
        matrix = Operator(gate).data
        return stim.Tableau.from_unitary_matrix(matrix, endian="little").to_circuit("elimination")
    except (ValueError, TypeError):
        return None


# id of a QuantumError -> (the error, kept alive so that its id is not reused; its Pauli terms)
_TERMS: dict[int, tuple] = {}
_TERMS_LIMIT = 20_000


def _error_terms(error) -> tuple[tuple[str, float], ...] | None:
    """A QuantumError's Pauli terms as (label, probability), identity left out; None when it is
    not a Pauli channel. Cached by the error's identity."""
    cached = _TERMS.get(id(error))
    if cached is not None and cached[0] is error:
        return cached[1]
    if len(_TERMS) > _TERMS_LIMIT:
        _TERMS.clear()
    from qrt_runner.execution.simulation.pauli_noise import is_pauli_error, pauli_probabilities

    terms = None
    if is_pauli_error(error):
        probabilities = pauli_probabilities(error).items()
        terms = tuple((label, p) for label, p in probabilities if set(label) != {"I"} and p > 0)
    _TERMS[id(error)] = (error, terms)
    return terms


def _args(values) -> str:
    return ",".join(repr(float(value)) for value in values)


def _channel(terms, qubits: list[int]) -> str | None:
    """``terms`` (Qiskit labels, qubit 0 last) on ``qubits`` as a Stim Pauli channel line."""
    if not terms:
        return ""
    if len(qubits) == 1:
        probs = dict(terms)
        return f"PAULI_CHANNEL_1({_args(probs.get(p, 0.0) for p in 'XYZ')}) {qubits[0]}\n"
    if len(qubits) == 2:
        probs = {label[1] + label[0]: p for label, p in terms}  # first letter on qubits[0]
        return f"PAULI_CHANNEL_2({_args(probs.get(pair, 0.0) for pair in _PAIRS)}) {qubits[0]} {qubits[1]}\n"
    return None


def _lindblad(error, qubits: list[int]) -> str | None:
    rates = np.asarray(error.rates, dtype=float)
    if np.any(rates < 0):
        return None  # a quasi-probability (PEC's inverse): not a channel Stim samples
    lines = []
    for generator, rate in zip(error.generators, rates):
        probability = 0.5 - 0.5 * math.exp(-2 * rate)
        label = generator.to_label().lstrip("-i")
        targets = " ".join(f"{letter}{qubits[k]}" for k, letter in enumerate(reversed(label)) if letter != "I")
        if probability > 0 and targets:
            lines.append(f"CORRELATED_ERROR({probability!r}) {targets}\n")
    return "".join(lines)


def _quantum_error(noise_model, name: str, qubits: tuple[int, ...]):
    return aer_internals.quantum_error(noise_model, name, qubits)


def _readout_flip(noise_model, qubit: int) -> float | None:
    """The flip probability of a symmetric readout error on ``qubit`` (0 without one); None when
    it is not symmetric."""
    error = aer_internals.readout_error(noise_model, qubit)
    if error is None:
        return 0.0
    matrix = np.asarray(error.probabilities, dtype=float)
    if matrix.shape != (2, 2) or not math.isclose(matrix[0, 1], matrix[1, 0], rel_tol=1e-9, abs_tol=1e-12):
        return None
    return float(matrix[0, 1])


def stim_circuit(circuit: QuantumCircuit, noise_model=None):
    """``circuit`` with ``noise_model``'s noise as a Stim circuit, and for each of its
    measurements the classical bit it writes; None when Stim cannot run it as Aer would."""
    import stim
    from qiskit_aer.noise import PauliLindbladError

    if noise_model is not None:
        if aer_internals.has_nonlocal_errors(noise_model):
            return None
        if aer_internals.has_quantum_error(noise_model, "measure"):
            return None  # Aer applies it before the measurement
        passes = aer_internals.noise_pass_manager(noise_model)
        if passes is not None:
            circuit = passes.run(circuit)
    index = {qubit: k for k, qubit in enumerate(circuit.qubits)}
    clbit_index = {clbit: k for k, clbit in enumerate(circuit.clbits)}
    lines: list[str] = []
    clbits: list[int] = []
    noise_cache: dict[tuple, str | None] = {}
    for instruction in circuit.data:
        operation = instruction.operation
        name = operation.name
        if name in _SKIP:
            continue
        if instruction.is_control_flow() or getattr(operation, "condition", None) is not None:
            return None
        qubits = [index[q] for q in instruction.qubits]
        if name == "measure":
            flip = _readout_flip(noise_model, qubits[0]) if noise_model is not None else 0.0
            if flip is None:
                return None
            lines.append(f"M({flip!r}) {qubits[0]}\n" if flip > 0 else f"M {qubits[0]}\n")
            clbits.append(clbit_index[instruction.clbits[0]])
            continue
        if name == "quantum_channel":
            error = aer_internals.channel_error(operation)
            if isinstance(error, PauliLindbladError):
                text = _lindblad(error, qubits)
            else:
                terms = _error_terms(error) if error is not None else None
                text = _channel(terms, qubits) if terms is not None else None
            if text is None:
                return None
            lines.append(text)
            continue
        if name == "reset":
            lines.append(f"R {qubits[0]}\n")
        elif not _append_gate(lines, instruction, name, qubits):
            return None
        if noise_model is not None:
            key = (name, *qubits)
            if key not in noise_cache:
                error = _quantum_error(noise_model, name, tuple(qubits))
                terms = _error_terms(error) if error is not None else ()
                noise_cache[key] = _channel(terms, qubits) if terms is not None else None
            text = noise_cache[key]
            if text is None:
                return None
            lines.append(text)
    return stim.Circuit("".join(lines)), clbits


def _append_gate(lines: list[str], instruction, name: str, qubits: list[int]) -> bool:
    if name in _GATES:
        lines.append(f"{_GATES[name]} {' '.join(map(str, qubits))}\n")
        return True
    if name == "rz":
        quarters = float(instruction.operation.params[0]) / (math.pi / 2)
        if abs(quarters - round(quarters)) > 1e-9:
            return False
        stim_name = _RZ_QUARTERS[round(quarters) % 4]
        if stim_name is not None:
            lines.append(f"{stim_name} {qubits[0]}\n")
        return True
    if name == "pauli":
        label = instruction.operation.params[0]
        for position, letter in enumerate(reversed(label)):
            if letter != "I":
                lines.append(f"{letter} {qubits[position]}\n")
        return True
    if instruction.operation.is_parameterized() or name.startswith("save_"):
        return False
    try:
        params = tuple(float(p) for p in instruction.operation.params)
    except (TypeError, ValueError):
        return False
    program = _gate_program(name, params, len(qubits))
    if program is None:
        return False
    for stim_instruction in program:
        targets = " ".join(str(qubits[target.value]) for target in stim_instruction.targets_copy())
        lines.append(f"{stim_instruction.name} {targets}\n")
    return True


def sample_memory(program, clbits: list[int], num_clbits: int, shots: int, seed: int) -> np.ndarray:
    """``shots`` samples of a :func:`stim_circuit` program as a (shots, num_clbits) bool array
    (a classical bit keeps the last measurement written to it; one never written reads 0)."""
    samples = program.compile_sampler(seed=seed % (2**63)).sample(shots)
    memory = np.zeros((shots, num_clbits), dtype=bool)
    for record, clbit in enumerate(clbits):
        memory[:, clbit] = samples[:, record]
    return memory
