"""Qiskit Aer's private noise-model state, noise-pass fields and channel instructions.

``NoiseModel`` documents how to add errors, but not how to read them back as objects (``to_dict``
serialises them), nor its custom noise passes (``from_backend`` adds the thermal relaxation of
delays as one); ``LocalNoisePass`` documents only its constructor; the instruction of a
``QuantumError`` keeps its error privately. Checked against qiskit-aer 0.17.0 and 0.18.2
(tests/test_adapters.py passes with both, with qiskit 2.6.2); held below 0.19 (pyproject.toml).

Aer is imported only inside the functions that need it.
"""

from __future__ import annotations

import copy
from typing import Any, TypeVar

from qrt_runner.adapters.versions import check_versions

__all__ = [
    "SUPPORTED",
    "add_custom_noise_pass",
    "all_quantum_errors",
    "channel_error",
    "check_supported",
    "copy_noise_model",
    "custom_noise_passes",
    "has_nonlocal_errors",
    "has_quantum_error",
    "json_encoder",
    "local_noise_pass_parts",
    "noise_pass_manager",
    "quantum_error",
    "readout_error",
]

SUPPORTED = {"qiskit-aer": ">=0.17,<0.19"}

_Model = TypeVar("_Model")


def check_supported() -> None:
    """Raise :class:`~qrt_runner.adapters.versions.UnsupportedVersion` unless the installed Aer is
    in :data:`SUPPORTED`."""
    check_versions(__name__, SUPPORTED)


def custom_noise_passes(model: Any) -> list:
    """A noise model's custom noise passes (a copy of the list), through
    ``NoiseModel._custom_noise_passes``. Public: none."""
    return list(model._custom_noise_passes)


def add_custom_noise_pass(model: Any, noise_pass: Any) -> None:
    """Add a noise pass (a ``LocalNoisePass``) to a noise model, run on every circuit it
    simulates, through ``NoiseModel._custom_noise_passes``. Public: none (only ``from_backend``
    adds passes)."""
    model._custom_noise_passes.append(noise_pass)


def local_noise_pass_parts(noise_pass: Any) -> tuple[Any, tuple, str]:
    """A ``LocalNoisePass``'s constructor arguments ``(func, op_types, method)`` (``op_types`` a
    tuple, empty for all operations), through its ``_func``, ``_ops`` and ``_method``. Public: none."""
    return noise_pass._func, noise_pass._ops, noise_pass._method


def quantum_error(model: Any, name: str, qubits: tuple[int, ...]) -> Any:
    """The quantum error a noise model applies after instruction ``name`` on ``qubits`` (its local
    error there, else its all-qubit error; None without one), through
    ``NoiseModel._local_quantum_errors`` and ``_default_quantum_errors``. Public: none
    (``to_dict`` serialises the errors)."""
    local = model._local_quantum_errors.get(name, {}).get(qubits)
    return local if local is not None else model._default_quantum_errors.get(name)


def all_quantum_errors(model: Any) -> list:
    """Every quantum error of a noise model: its all-qubit errors, then its local ones, through
    ``NoiseModel._default_quantum_errors`` and ``_local_quantum_errors``. Public: none."""
    errors = list(model._default_quantum_errors.values())
    errors += [error for by_qubits in model._local_quantum_errors.values() for error in by_qubits.values()]
    return errors


def has_quantum_error(model: Any, name: str) -> bool:
    """Whether a noise model has a quantum error on instruction ``name`` (on all or some qubits),
    through ``NoiseModel._default_quantum_errors`` and ``_local_quantum_errors``. Public: none
    (``noise_instructions`` mixes in the readout errors' ``measure``)."""
    return name in model._default_quantum_errors or bool(model._local_quantum_errors.get(name))


def has_nonlocal_errors(model: Any) -> bool:
    """Whether a noise model has non-local quantum errors, through
    ``NoiseModel._nonlocal_quantum_errors`` (which Aer 0.17 and 0.18 no longer have: False).
    Public: none."""
    return bool(getattr(model, "_nonlocal_quantum_errors", None))


def readout_error(model: Any, qubit: int) -> Any:
    """The readout error of ``qubit`` in a noise model (its local one, else the all-qubit one; None
    without one), through ``NoiseModel._local_readout_errors`` and ``_default_readout_error``.
    Public: none."""
    return model._local_readout_errors.get((qubit,), model._default_readout_error)


def noise_pass_manager(model: Any) -> Any:
    """The pass manager of a noise model's custom noise passes (None without any), which Aer runs
    on a circuit before simulating it, through ``NoiseModel._pass_manager()``. Public: none."""
    return model._pass_manager()


def channel_error(operation: Any) -> Any:
    """The error of a noise instruction (``QuantumError.to_instruction()``, a
    ``QuantumChannelInstruction``, named ``quantum_channel``); None for any other operation,
    through its ``_quantum_error``. Public: none."""
    return getattr(operation, "_quantum_error", None)


def json_encoder() -> type:
    """``qiskit_aer.noise.noise_model.AerJSONEncoder``, the JSON encoder of
    ``NoiseModel.to_dict(serializable=True)``. Public: none (``qiskit_aer.noise`` does not export
    it)."""
    from qiskit_aer.noise.noise_model import AerJSONEncoder

    return AerJSONEncoder


def copy_noise_model(model: Any, cls: type[_Model]) -> _Model:
    """A deep copy of a noise model's state as an instance of ``cls`` (a ``NoiseModel`` subclass),
    through its instance ``__dict__``. Public: none (``copy.deepcopy`` keeps the class;
    ``NoiseModel.from_dict(model.to_dict())`` loses the custom noise passes)."""
    out = cls.__new__(cls)
    out.__dict__.update(copy.deepcopy(model.__dict__))
    return out
