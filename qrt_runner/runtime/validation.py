"""Checks of one option value, as qiskit-ibm-runtime makes them on assignment.

Leaves that IBM's options also have are validated by IBM's own pydantic options classes (a private
IBM options object mirrors every assignment); its ``ValidationError`` becomes a one-line
``ValueError`` naming ``options.<path>``, the value and what is allowed. qrt_runner's own leaves
and the IBM leaves it does not implement are checked here.
"""

from __future__ import annotations

import math
import os
import re
import warnings
from typing import Any

from pydantic import ValidationError

from qrt_runner.adapters.qiskit_ibm_runtime import is_unset, unset
from qrt_runner.config.allowed import RANDOMIZATION_ALLOCATIONS, SHOT_ALLOCATIONS
from qrt_runner.mitigation.extrapolation import CHOICES as EXTRAPOLATOR_CHOICES

__all__ = ["NoSuchOption", "UnsupportedOption", "check_own", "check_supported", "from_ibm", "set_ibm", "to_ibm"]

# IBM's leaves (or subtrees) that qrt_runner does not implement: (why, the values it accepts).
UNSUPPORTED: dict[str, tuple[str, tuple]] = {
    "environment.private": ("there is no service to keep a job private from", (None, False)),
    "execution.init_qubits": ("the simulator always starts from |0>", (None, True)),
    "execution.rep_delay": ("the simulator has no repetition delay", (None,)),
    "execution.meas_type": ("the simulator returns classified bits only", (None, "classified")),
    "experimental": ("no experimental options are implemented", (None,)),
    "seed_estimator": (
        "set simulator.seed_simulator: it seeds the simulator and every random draw of the job",
        (None,),
    ),
    "simulator.noise_model": ("the noise is the fake device's own (choose the device as the mode)", (None,)),
    "simulator.basis_gates": ("the basis gates are the device's", (None,)),
    "simulator.coupling_map": ("the coupling map is the device's", (None,)),
}

_OPTIONAL_BOOL = ("True, False or None", lambda v: v is None or isinstance(v, bool))
# qrt_runner's own leaves, and IBM leaves whose values mean something else here: (allowed, test).
OWN: dict[str, tuple[str, Any]] = {
    # IBM requires > 0; qrt_runner adds 0: exact values on the ideal simulator (refused on a device at run)
    "default_precision": (
        "a number >= 0 (0: exact values, on the ideal simulator only)",
        lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v >= 0,
    ),
    "resilience.layer_noise_model": (
        "the path of a JSON/YAML layer noise model file, IBM's NoiseLearnerResult or a list of its "
        "LayerError, or None for the fake device's own",
        lambda v: v is None or isinstance(v, (str, os.PathLike)) or _layer_errors(v),
    ),
    "resilience.nearest_probability": _OPTIONAL_BOOL,
    "resilience.zne.extrapolator_choice": (
        " or ".join(repr(c) for c in EXTRAPOLATOR_CHOICES) + " or None",
        lambda v: v is None or v in EXTRAPOLATOR_CHOICES,
    ),
    "resilience.zne.extrapolate_per_term": _OPTIONAL_BOOL,
    "resilience.zne.shot_allocation": (
        " or ".join(repr(c) for c in SHOT_ALLOCATIONS) + " or None",
        lambda v: v is None or v in SHOT_ALLOCATIONS,
    ),
    "resilience.zne.randomization_allocation": (
        " or ".join(repr(c) for c in RANDOMIZATION_ALLOCATIONS) + " or None",
        lambda v: v is None or v in RANDOMIZATION_ALLOCATIONS,
    ),
    "twirling.dressing_noise": _OPTIONAL_BOOL,
}
# The type IBM stores a leaf as, where qrt_runner checks it instead of IBM (a learned model: as a file).
_STORED_AS = {"default_precision": float, "resilience.layer_noise_model": lambda v: _layer_errors_file(v)}
# Where IBM's own message does not say what is allowed.
_ALLOWED = {"resilience_level": "0, 1 or 2"}


def _layer_errors(value: Any) -> bool:
    from qrt_runner.runtime.layer_models import is_layer_errors

    return is_layer_errors(value)


def _layer_errors_file(value: Any) -> Any:
    from qrt_runner.runtime.layer_models import layer_errors_file

    return layer_errors_file(value)


class NoSuchOption(AttributeError, ValueError):
    """A name qiskit-ibm-runtime's options do not have (IBM raises a ValueError, Python an AttributeError)."""


class UnsupportedOption(AttributeError):
    """An option of qiskit-ibm-runtime that qrt_runner does not implement."""


def join(path: str, name: Any) -> str:
    return f"{path}.{name}" if path else str(name)


def check_supported(path: str, value: Any) -> None:
    """Raise :class:`UnsupportedOption` for a value qrt_runner cannot honour at ``path`` (or below an
    unsupported subtree); the defaults of unsupported options are accepted."""
    key = next((k for k in UNSUPPORTED if path == k or path.startswith(k + ".")), None)
    if key is None:
        return
    reason, accepted = UNSUPPORTED[key]
    value = from_ibm(value)
    if isinstance(value, dict) and all(from_ibm(v) is None for v in _leaves(value)):
        return  # an empty subtree, or one with every leaf unset
    if value in accepted:
        return
    got = f"{value!r}" if path == key else f"options.{path}={value!r}"
    raise UnsupportedOption(f"options.{key} is not supported by qrt_runner: {reason} (got {got})")


def check_own(path: str, value: Any) -> Any:
    """Check one of qrt_runner's own leaves (``OWN``); returns the value to store."""
    value = from_ibm(value)
    if path in OWN:
        allowed, test = OWN[path]
        if not test(value):
            raise ValueError(f"options.{path}={value!r}: must be {allowed}")
    return _STORED_AS.get(path, lambda v: v)(value)


def to_ibm(value: Any, ibm_node: Any, name: str) -> Any:
    """qrt_runner's value as IBM's options hold it (None means Unset where IBM's default is Unset)."""
    if value is None:
        field = type(ibm_node).__dataclass_fields__.get(name)
        if field is not None and is_unset(field.default):
            return unset()
    return value


def from_ibm(value: Any) -> Any:
    """IBM's value as qrt_runner holds it: Unset is None, sequences are lists."""
    if is_unset(value):
        return None
    return list(value) if isinstance(value, tuple) else value


def set_ibm(ibm_node: Any, name: str, value: Any, path: str) -> Any:
    """Assign on IBM's options object (its pydantic validation); returns the value IBM stored.

    Raises:
        ValueError: one line, ``options.<path>=<value>: <what is allowed>``.
    """
    try:
        with warnings.catch_warnings():  # e.g. 0.48's deprecation of integer shots_per_randomization
            warnings.simplefilter("ignore", DeprecationWarning)
            setattr(ibm_node, name, value)
    except ValidationError as exc:
        raise ValueError(_message(exc, ibm_node, path, value)) from None
    return getattr(ibm_node, name)


def _message(exc: ValidationError, ibm_node: Any, path: str, value: Any) -> str:
    """IBM's validation errors for one assignment as one line naming the first bad leaf."""
    base = path.rpartition(".")[0]
    groups: dict[str, list[Any]] = {}
    for error in exc.errors():
        where = join(base, ".".join(_field_names(ibm_node, error["loc"]))) if error["loc"] else path
        groups.setdefault(where, []).append(error)
    meant = [(where, errors) for where, errors in groups.items() if not all(_noise(e) for e in errors)]
    where, errors = (meant or list(groups.items()))[0]
    shown = from_ibm(errors[0].get("input", value) if where != path else value)
    head = f"options.{where}" if isinstance(shown, dict) else f"options.{where}={shown!r}"  # a subtree: its path
    if where in _ALLOWED:
        return f"{head}: must be {_ALLOWED[where]}"
    useful = [e for e in errors if not _noise(e)] or errors
    alternatives, reasons = [], []
    for error in useful:
        if error["type"] == "literal_error":
            alternatives.append(f"one of {error['ctx']['expected']}")
        elif error["type"] in ("value_error", "assertion_error", "frozen_field"):
            reasons.append(_reason(error["msg"]))
        else:
            alternatives.append(error["msg"].removeprefix("Input should be ").split(",")[0])
    text = "; ".join(reasons + ([f"must be {' or '.join(alternatives)}"] if alternatives else []))
    return f"{head}: {text}"


def _field_names(ibm_node: Any, loc: tuple) -> list[str]:
    """The option names in a pydantic error location (without its union and validator tags)."""
    names, node = [], ibm_node
    for part in loc:
        if isinstance(part, str) and part in getattr(type(node), "__dataclass_fields__", {}):
            names.append(part)
            node = getattr(node, part, None)
    return names


def _noise(error: dict) -> bool:
    """The branches of IBM's unions that no one means: Unset, IBM's Dict marker, a str as a sequence."""
    tag = str(error["loc"][-1]) if error["loc"] else ""
    return error["type"] == "sequence_str" or (error["type"] == "is_instance_of" and tag.startswith("is-instance["))


def _reason(msg: str) -> str:
    msg = msg.removeprefix("Value error, ").removeprefix("Assertion failed, ")
    msg = re.sub(r"^\w+\.\w+ (must be \S+), but is ==.*$", r"\1", msg)  # IBM's range checks
    return msg.replace("`", "").rstrip(".")


def _leaves(tree: dict):
    for value in tree.values():
        if isinstance(value, dict):
            yield from _leaves(value)
        else:
            yield value
