"""A fake device's noise model in Pauli form (``backend.noise=pauli``).

:func:`pauli_noise_model` is the Pauli-twirled approximation of the model
:func:`~qrt_runner.execution.simulation.noise.restricted_noise_model` gives (what
``NoiseModel.from_backend(device)`` builds, on some qubits and numbered 0..n-1): the same basis
gates and the same gates and qubits carrying errors, but every gate error E replaced by its
twirl ``sum_P p_P P rho P``, where ``p_P`` is the diagonal of E's chi (process) matrix in the
Pauli basis (equivalently the Walsh-Hadamard transform of the diagonal of its Pauli transfer
matrix), and every readout error by its symmetric form, flip probability
``(p(1|0) + p(0|1)) / 2`` for both outcomes. Delays get the twirl of the thermal relaxation
the full model gives them. Every error being a Pauli channel, Aer's ``stabilizer`` method can
simulate noisy Clifford circuits at full device width (127 qubits).

Where it differs from the full model:

* amplitude damping (T1) becomes symmetric bit and phase flips: there is no relaxation towards
  ``|0>``. A qubit held in ``|1>`` relaxes towards the maximally mixed state, so its ``<Z>``
  decays from -1 towards 0, where the full model takes it towards +1; in general a state's
  populations are no longer pulled towards the ground state;
* coherent errors (over- or under-rotations, ZZ: none in Aer's device model, but in general)
  become incoherent; they no longer add up in amplitude over repeated gates;
* readout asymmetry (``p(0|1) > p(1|0)`` on real devices) is symmetrised.

What is kept exactly: each error's Pauli fidelities, hence its process fidelity, average gate
fidelity and depolarising strength, and every expectation value of a circuit that is itself
Pauli-twirled (randomised compiling), whose errors the device experiences in twirled form.
"""

from __future__ import annotations

import warnings
from functools import lru_cache
from itertools import product

import numpy as np
from qiskit.circuit import QuantumCircuit
from qiskit.providers import BackendV2
from qiskit.quantum_info import PTM
from qiskit.transpiler import Target
from qiskit_aer.noise import LocalNoisePass, NoiseModel, QuantumError, ReadoutError, pauli_error
from qiskit_aer.noise.device import basic_device_gate_errors, basic_device_readout_errors

from qrt_runner.adapters import qiskit_aer as aer_internals
from qrt_runner.execution.simulation.noise import SerialisedOnceNoiseModel, _SubDevice, sub_target

__all__ = [
    "PauliDelayNoisePass",
    "is_pauli_error",
    "is_pauli_model",
    "pauli_noise_model",
    "pauli_probabilities",
    "symmetric_readout",
    "twirled",
]

NEGLIGIBLE = 1e-15  # a Pauli term with a smaller probability is dropped

_LETTERS = "IXYZ"
_PAULI_GATES = {"id": "I", "x": "X", "y": "Y", "z": "Z"}
_SIGMA = np.array([[[1, 0], [0, 1]], [[0, 1], [1, 0]], [[0, -1j], [1j, 0]], [[1, 0], [0, -1]]], dtype=complex)
# signs[q, p] = +1 when single-qubit Paulis q and p commute, -1 when they anticommute
_SIGNS = np.array([[1, 1, 1, 1], [1, 1, -1, -1], [1, -1, 1, -1], [1, -1, -1, 1]], dtype=float)
# the PTM of reset to |0>: every input goes to (I + Z) / 2
_RESET_PTM = np.array([[1, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0], [1, 0, 0, 0]], dtype=float)


def _labels(width: int) -> list[str]:
    """Pauli labels in the order of :func:`pauli_probabilities`' arrays: index ``sum_q d_q 4**q``
    (qubit 0 is the last letter, as Qiskit writes labels)."""
    return ["".join(letters) for letters in product(_LETTERS, repeat=width)]


@lru_cache(maxsize=8)
def _sign_matrix(width: int) -> np.ndarray:
    out = np.ones((1, 1))
    for _ in range(width):
        out = np.kron(out, _SIGNS)
    return out


def _ptm_of_kraus(kraus) -> np.ndarray:
    """The 4x4 Pauli transfer matrix ``Tr(s_i E(s_j)) / 2`` of a single-qubit channel."""
    mats = np.asarray(kraus, dtype=complex)
    image = np.einsum("kab,jbc,kdc->jad", mats, _SIGMA, mats.conj())  # E(s_j)
    return np.real(np.einsum("iba,jab->ij", _SIGMA, image)) / 2


def _single_qubit_ptm(operation) -> np.ndarray:
    name = operation.name
    if name == "reset":
        return _RESET_PTM
    if name == "kraus":
        return _ptm_of_kraus(operation.params)
    if hasattr(operation, "to_matrix"):
        return _ptm_of_kraus([operation.to_matrix()])
    return np.real(PTM(operation).data)


def _circuit_fidelities(circuit: QuantumCircuit, width: int) -> np.ndarray:
    """The diagonal of the PTM of one branch of an error, in the order of :func:`_labels`.

    A branch made of single-qubit operations and Pauli gates (every branch of Aer's device
    errors) is a tensor product of single-qubit channels, whose PTM diagonal is the tensor
    product of theirs; any other branch goes through Qiskit's PTM.
    """
    ptms: list[np.ndarray | None] = [None] * width  # per qubit, None for identity
    for instruction in circuit.data:
        operation = instruction.operation
        qubits = [circuit.find_bit(q).index for q in instruction.qubits]
        if operation.name == "pauli" or operation.name in _PAULI_GATES:
            label = operation.params[0] if operation.name == "pauli" else _PAULI_GATES[operation.name]
            label = str(label).lstrip("-i")  # a phase does not change the channel
            for qubit, letter in zip(qubits, reversed(label)):
                if letter != "I":
                    signs = _SIGNS[_LETTERS.index(letter)]
                    current = ptms[qubit]
                    ptms[qubit] = np.diag(signs) if current is None else signs[:, None] * current
        elif len(qubits) == 1:
            ptm = _single_qubit_ptm(operation)
            current = ptms[qubits[0]]
            ptms[qubits[0]] = ptm if current is None else ptm @ current
        else:
            return np.real(PTM(circuit).data.diagonal()).copy()
    out = np.ones(1)
    for qubit in reversed(range(width)):
        qubit_ptm = ptms[qubit]
        out = np.kron(out, np.ones(4) if qubit_ptm is None else qubit_ptm.diagonal())
    return out


def pauli_probabilities(error: QuantumError) -> dict[str, float]:
    """The probability of each Pauli in the twirl of ``error`` (the diagonal of its chi matrix
    in the Pauli basis, normalised to sum 1), by label (qubit 0 is the last letter)."""
    width = error.num_qubits
    fidelities = np.zeros(4**width)
    for circuit, probability in zip(error.circuits, error.probabilities):
        fidelities += probability * _circuit_fidelities(circuit, width)
    probabilities = _sign_matrix(width) @ fidelities / 4**width
    return dict(zip(_labels(width), probabilities.tolist()))


def is_pauli_error(error: QuantumError) -> bool:
    """Whether every branch of ``error`` is a Pauli operator (a Pauli channel as it stands)."""
    return all(
        instruction.operation.name == "pauli" or instruction.operation.name in _PAULI_GATES
        for circuit in error.circuits
        for instruction in circuit.data
    )


def twirled(error: QuantumError) -> QuantumError:
    """The Pauli twirl of ``error`` as a Pauli error (an error that is one already is returned
    as it is); terms below :data:`NEGLIGIBLE` are dropped and the rest renormalised."""
    if is_pauli_error(error):
        return error
    probabilities = pauli_probabilities(error)
    kept = {label: p for label, p in probabilities.items() if p >= NEGLIGIBLE}
    total = sum(kept.values())
    return pauli_error([(label, p / total) for label, p in kept.items()])


def symmetric_readout(error: ReadoutError) -> ReadoutError:
    """A single-qubit readout error with both flip probabilities their average."""
    matrix = np.asarray(error.probabilities, dtype=float)
    if matrix.shape != (2, 2):
        raise ValueError(f"only single-qubit readout errors can be symmetrised, not shape {matrix.shape}")
    flip = (matrix[0, 1] + matrix[1, 0]) / 2
    return ReadoutError([[1 - flip, flip], [flip, 1 - flip]])


class PauliDelayNoisePass(LocalNoisePass):
    """The twirl of another noise pass's errors (the full model's thermal relaxation on delays)."""

    def __init__(self, source: LocalNoisePass):
        self.source = source
        _, op_types, method = aer_internals.local_noise_pass_parts(source)
        super().__init__(self._twirled_error, op_types=op_types or None, method=method)

    def _twirled_error(self, operation, qubits):
        source_func, _, _ = aer_internals.local_noise_pass_parts(self.source)
        error = source_func(operation, qubits)
        if isinstance(error, QuantumError):
            return twirled(error)
        if isinstance(error, QuantumCircuit):  # one error per qubit of a multi-qubit operation
            out = QuantumCircuit(error.num_qubits)
            for instruction in error.data:
                inner = aer_internals.channel_error(instruction.operation)
                operation_out = twirled(inner).to_instruction() if inner is not None else instruction.operation
                out.append(operation_out, instruction.qubits)
            return out
        return error


def _delay_passes(target: Target) -> list:
    """The noise passes ``NoiseModel.from_backend`` gives a device with ``target``'s qubits (its
    thermal relaxation on delays), from Aer itself: a target with those qubits' properties and no
    instruction costs no gate error."""
    bare = Target(num_qubits=target.num_qubits, dt=target.dt, qubit_properties=target.qubit_properties)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = NoiseModel.from_backend(_SubDevice(bare, "qubits"))
    return aer_internals.custom_noise_passes(model)


class _ByName:
    """A device as a cache key: by its name (the fake devices' calibrations are fixed)."""

    def __init__(self, device: BackendV2):
        self.device = device

    def __hash__(self) -> int:
        return hash(self.device.name)

    def __eq__(self, other) -> bool:
        return isinstance(other, _ByName) and other.device.name == self.device.name


@lru_cache(maxsize=64)
def _build(key: _ByName, qubits: tuple[int, ...]) -> SerialisedOnceNoiseModel:
    target = sub_target(key.device.target, qubits)
    model = SerialisedOnceNoiseModel(basis_gates=list(target.operation_names))
    for qargs, readout in basic_device_readout_errors(target=target):
        model.add_readout_error(symmetric_readout(readout), qargs)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning, module="qiskit_aer.noise")
        gate_errors = basic_device_gate_errors(target=target)
    # Aer derives a gate's error from its qubits' properties and its own error and duration:
    # gates alike in these (sx, x and id on a qubit, as a rule) share one twirled error
    shared: dict[tuple, QuantumError] = {}
    for name, qargs, error in gate_errors:
        properties = target[name][tuple(qargs)]
        alike = (tuple(qargs), getattr(properties, "error", None), getattr(properties, "duration", None))
        if alike not in shared:
            shared[alike] = twirled(error)
        model.add_quantum_error(shared[alike], name, qargs)
    for noise_pass in _delay_passes(target):
        aer_internals.add_custom_noise_pass(model, PauliDelayNoisePass(noise_pass))
    return model


def pauli_noise_model(device: BackendV2, qubits: tuple[int, ...]) -> NoiseModel:
    """The Pauli-twirled form of ``restricted_noise_model(device, qubits)``: device qubits
    ``qubits`` numbered 0..len(qubits)-1, every gate error a Pauli channel, readout symmetric.

    Built once per (device name, qubits) and shared: do not change the model returned (Aer adds
    circuit-inlined errors to a copy of it).
    """
    return _build(_ByName(device), tuple(int(q) for q in qubits))


def is_pauli_model(model: NoiseModel) -> bool:
    """Whether every quantum error ``model`` applies is a Pauli channel (readout errors, being
    classical, are allowed whatever their form), so that the stabilizer method can run it."""
    errors = aer_internals.all_quantum_errors(model)
    if not all(isinstance(error, QuantumError) and is_pauli_error(error) for error in errors):
        return False
    return all(isinstance(noise_pass, PauliDelayNoisePass) for noise_pass in aer_internals.custom_noise_passes(model))
