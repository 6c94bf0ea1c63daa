"""Whether one instruction is a Clifford operation, and its rewrite into Aer's stabilizer gates.

A gate on up to three qubits is classified from its matrix (:mod:`.clifford_synthesis`); wider
gates are left to ``qiskit.quantum_info.Clifford``. Results are cached by the gate's name and
rounded parameters, so a circuit of tens of thousands of gates costs one dictionary look-up per
instruction.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from qiskit.circuit import CircuitInstruction, Gate, Instruction, ParameterExpression
from qiskit.exceptions import QiskitError
from qiskit.quantum_info import Clifford, Operator

from qrt_runner.execution.simulation.clifford_synthesis import (
    TOLERANCE,
    _from_matrix,
    _merged_one_qubit_runs,
    _phase_of,
    _Rewrite,
)

_PARAM_DIGITS = 11  # cache keys round parameters to this many decimals
_CACHE_LIMIT = 200_000
_MATRIX_QUBITS = 3  # gates this wide or narrower are classified from their matrix
_PHASE_QUBITS = 6  # wider gates handed to qiskit's Clifford get no global-phase correction

# (name, num_qubits, rounded params) of a standard gate -> its rewrite, or None if not Clifford
_CACHE: dict[tuple, _Rewrite | None] = {}


class _Unbound(Exception):
    """A parameter is not bound to a number."""


def _number(value: Any) -> float:
    """A gate parameter as a real number (raises _Unbound for free parameters, TypeError otherwise)."""
    if isinstance(value, ParameterExpression):
        if value.parameters:
            raise _Unbound
        value = complex(value)
    if isinstance(value, complex | np.complexfloating):
        number = complex(value)
        if abs(number.imag) > TOLERANCE:
            raise TypeError("complex parameter")
        return number.real
    if isinstance(value, int | float | np.integer | np.floating):
        return float(value)
    raise TypeError(f"non-numeric parameter {type(value).__name__}")


def _classify(operation: Instruction) -> _Rewrite | None:
    """The rewrite of a unitary operation into Aer's gates, or None if it is not Clifford."""
    num_qubits = operation.num_qubits
    if operation.name == "global_phase":
        return _Rewrite((), _number(operation.params[0]))
    if not isinstance(operation, Gate) or operation.num_clbits:
        try:  # a unitary instruction that is no Gate (a Clifford object, say)
            tableau = Clifford(operation)
        except (QiskitError, TypeError, ValueError, AttributeError, NotImplementedError):
            return None
        return _Rewrite(tuple(_merged_one_qubit_runs(tableau.to_circuit())), 0.0)
    if num_qubits <= _MATRIX_QUBITS:
        try:
            unitary = Operator(operation).data
        except (QiskitError, TypeError, ValueError, AttributeError, NotImplementedError):
            return None
        return _from_matrix(unitary, num_qubits)
    try:
        tableau = Clifford(operation)
    except (QiskitError, TypeError, ValueError, AttributeError, NotImplementedError):
        return None
    gates = _merged_one_qubit_runs(tableau.to_circuit())
    phase = 0.0
    if num_qubits <= _PHASE_QUBITS:
        try:
            phase = _phase_of(Operator(operation).data, gates, num_qubits)
        except (QiskitError, AssertionError):
            phase = 0.0
    return _Rewrite(tuple(gates), phase)


def _rewrite(instruction: CircuitInstruction, local: dict[int, tuple[Any, _Rewrite | None]]) -> _Rewrite | None:
    """The cached rewrite of a unitary instruction (raises _Unbound for a free parameter).

    Standard gates are cached across calls by name and rounded parameters; any other operation
    (whose name says nothing of its matrix) per call by identity, holding it so its id stays its own.
    """
    if instruction.is_parameterized():
        raise _Unbound
    if instruction.is_standard_gate():
        try:
            params = tuple(round(_number(p), _PARAM_DIGITS) for p in instruction.params)
        except TypeError:
            return None
        key = (instruction.name, len(instruction.qubits), params)
        if key not in _CACHE:
            if len(_CACHE) >= _CACHE_LIMIT:
                _CACHE.clear()
            _CACHE[key] = _classify(instruction.operation)
        return _CACHE[key]
    operation = instruction.operation
    if id(operation) not in local:
        try:
            for value in getattr(operation, "params", ()):
                if isinstance(value, ParameterExpression) and value.parameters:
                    raise _Unbound
            local[id(operation)] = (operation, _classify(operation))
        except TypeError:
            local[id(operation)] = (operation, None)
    return local[id(operation)][1]
