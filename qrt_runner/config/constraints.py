"""Constraints declared on the schema's fields, checked by Pydantic, reported as one line.

A field's type carries its constraint: ``num_qubits: Count`` (an integer >= 1),
``mode: Annotated[str, OneOf(*SESSION_MODES)]``, ``max_time: Seconds``. The bounds are Pydantic's own
``Field(ge=..., le=..., gt=..., allow_inf_nan=False)``, so that the JSON Schema of the config
(``qrt-run schema``) states them too; :class:`OneOf` is a set of allowed values (an ``enum`` in the
schema); :class:`Hint` adds what to do, or why, where the generic advice would say less.

:func:`check_declared` validates a group's dataclass with Pydantic and turns the first error into
a :class:`~qrt_runner.errors.ConfigError` naming the key, the value, what is allowed and what to
change. OmegaConf has checked the types already; these are the ranges, sets and finiteness.
"""

from __future__ import annotations

import dataclasses
import difflib
import typing
from functools import cache
from typing import Annotated, Any

from pydantic import Field

from qrt_runner.errors import ConfigError

__all__ = [
    "Count",
    "Finite",
    "Hint",
    "NonNegative",
    "NonNegativeFloat",
    "OneOf",
    "Positive",
    "Seconds",
    "Seed",
    "check_declared",
    "constraint_of",
]

MAX_SEED = 2**62  # the simulator takes 64-bit seeds, and job i of a run uses seed_simulator + i


class OneOf:
    """The values a field may take (checked, and listed in the JSON Schema as an ``enum``);
    ``what`` names them in the error (``unknown strategy``); ``suggest``: the error names the
    closest value (``did you mean session?``; by default for plain values only)."""

    def __init__(self, *values: Any, what: str = "value", suggest: bool | None = None):
        self.values = tuple(values)
        self.what = what
        self.suggest = what == "value" if suggest is None else suggest

    def __get_pydantic_core_schema__(self, source: Any, handler: Any) -> Any:
        from pydantic_core import core_schema

        return core_schema.literal_schema(list(self.values))

    def __repr__(self) -> str:
        return f"OneOf{self.values!r}"


@dataclasses.dataclass(frozen=True)
class Hint:
    """What the one-line error says beyond the bound (each may name the key as ``{key}``).

    Attributes:
        fix: replaces the generic advice.
        problem: replaces the problem (the broken bound) altogether.
        why: follows the problem, in parentheses.
        unit: follows the bound (``must be > 0 seconds``).
        above: replaces the problem when the upper bound is broken; fix_above: its advice.
    """

    fix: str = ""
    problem: str = ""
    why: str = ""
    unit: str = ""
    above: str = ""
    fix_above: str = ""


Finite = Annotated[float, Field(allow_inf_nan=False)]
Positive = Annotated[float, Field(gt=0, allow_inf_nan=False)]
NonNegativeFloat = Annotated[float, Field(ge=0, allow_inf_nan=False)]
Seconds = Annotated[
    float, Field(gt=0, allow_inf_nan=False), Hint(unit="seconds", fix="set {key} to a time in seconds > 0")
]
Count = Annotated[int, Field(ge=1)]
NonNegative = Annotated[int, Field(ge=0)]
Seed = Annotated[int, Field(ge=0, le=MAX_SEED), Hint(fix="set {key} to a non-negative integer below 2**62")]


@dataclasses.dataclass(frozen=True)
class Constraint:
    """What a field declares: its bounds, allowed values and hint."""

    ge: float | None = None
    gt: float | None = None
    le: float | None = None
    lt: float | None = None
    values: tuple[Any, ...] = ()
    what: str = "value"
    suggest: bool = True
    hint: Hint = Hint()


def constraint_of(annotation: Any) -> Constraint:
    """The constraint a field's type declares (through ``Optional[...]`` and ``List[...]``)."""
    found: dict[str, Any] = {}
    for part in _annotated_parts(annotation):
        for item in typing.get_args(part)[1:]:
            if isinstance(item, OneOf):
                found["values"], found["what"], found["suggest"] = item.values, item.what, item.suggest
            elif isinstance(item, Hint):  # Annotated flattens: a later (outer) Hint's fields win
                inner = found.get("hint", Hint())
                found["hint"] = Hint(
                    **{f.name: getattr(item, f.name) or getattr(inner, f.name) for f in dataclasses.fields(Hint)}
                )
            for meta in getattr(item, "metadata", ()):  # pydantic's FieldInfo: Ge, Le, Gt, Lt
                for bound in ("ge", "gt", "le", "lt"):
                    if hasattr(meta, bound):
                        found[bound] = getattr(meta, bound)
    return Constraint(**found)


def _annotated_parts(annotation: Any) -> list[Any]:
    if typing.get_origin(annotation) is Annotated:
        return [annotation, *_annotated_parts(typing.get_args(annotation)[0])]
    parts = []
    for arg in typing.get_args(annotation):
        parts += _annotated_parts(arg)
    return parts


@cache
def _adapter(schema: type) -> Any:
    from pydantic import TypeAdapter

    return TypeAdapter(schema)


@cache
def _hints(schema: type) -> dict[str, Any]:
    return typing.get_type_hints(schema, include_extras=True)


def check_declared(key: str, value: Any) -> None:
    """Check the dataclass ``value`` (config key ``key``) against its declared constraints.

    Raises:
        ConfigError: for the first field that breaks its constraint, with key, value and fix.
    """
    from pydantic import ValidationError

    schema: Any = type(value)
    try:
        _adapter(schema).validate_python(dataclasses.asdict(value))
    except ValidationError as exc:
        for error in exc.errors(include_url=False):
            if error["type"] in _DECLARED:  # types are OmegaConf's; values it let through, the later checks'
                raise _config_error(key, value, error) from None


_DECLARED = ("literal_error", "finite_number", "greater_than", "greater_than_equal", "less_than", "less_than_equal")


def _config_error(key: str, value: Any, error: Any) -> ConfigError:
    """A Pydantic error as a ConfigError: the full key, the value, the bound and the fix."""
    path, annotation = key, None
    node: Any = value
    for step in error["loc"]:
        if isinstance(step, int):
            path += f"[{step}]"
            continue
        if dataclasses.is_dataclass(node) and not isinstance(node, type):
            annotation = _hints(type(node)).get(str(step))
            node = getattr(node, str(step), None)
        path += f".{step}" if path else str(step)
    constraint = constraint_of(annotation)
    hint = constraint.hint
    problem, fix = _problem_and_fix(path, error, constraint)
    if hint.above and error["type"] in ("less_than", "less_than_equal"):
        problem, fix = hint.above, hint.fix_above or fix
    else:
        problem, fix = hint.problem or problem, hint.fix or fix
    if hint.why:
        problem += f" ({hint.why})"
    return ConfigError(path, error.get("input"), problem.format(key=path), fix.format(key=path))


def _problem_and_fix(key: str, error: Any, c: Constraint) -> tuple[str, str]:
    kind, given = error["type"], error.get("input")
    if kind == "literal_error":
        if c.values and all(isinstance(v, int) for v in c.values):  # a few numbers: say them
            text = ", ".join(str(v) for v in c.values[:-1]) + f" or {c.values[-1]}"
            return f"must be {text}", f"set {key} to {text}"
        allowed = [str(v) for v in c.values] or [error.get("ctx", {}).get("expected", "")]
        close = difflib.get_close_matches(str(given), allowed, n=1) if c.suggest else []
        hint = f"did you mean {close[0]}? " if close else ""
        return f"unknown {c.what}", f"{hint}choose one of {', '.join(allowed)}"
    if kind == "finite_number":
        return "must be a finite number", f"set {key} to a finite number"
    if kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        integer = isinstance(given, int) and not isinstance(given, bool)
        return _range(key, c, integer, below=kind.startswith("greater"))
    return str(error.get("msg", "is invalid")).replace("Input should", "should"), f"fix {key}"


def _range(key: str, c: Constraint, integer: bool, below: bool) -> tuple[str, str]:
    """The bound a value broke (``below``: the lower one), as the problem and its fix:
    ``must be at least 1``, ``must be >= 0``, ``must be > 0 seconds``, ``must be between 0 and 3``,
    ``must be > 0 and at most 86400 seconds``."""
    noun = "an integer" if integer else "a number"
    unit = f" {c.hint.unit}" if c.hint.unit else ""
    if below:
        if c.ge is not None and integer and c.ge >= 1:
            return f"must be at least {_number(c.ge)}{unit}", f"set {key} to an integer >= {_number(c.ge)}{unit}"
        text = f">= {_number(c.ge)}" if c.ge is not None else f"> {_number(c.gt or 0)}"
    elif c.ge is not None:
        text = f"between {_number(c.ge)} and {_number(c.le if c.le is not None else c.lt or 0)}"
    elif c.gt is not None:
        text = f"> {_number(c.gt)} and at most {_number(c.le if c.le is not None else c.lt or 0)}"
    else:
        text = f"<= {_number(c.le)}" if c.le is not None else f"< {_number(c.lt or 0)}"
    return f"must be {text}{unit}", f"set {key} to {noun} {text}{unit}"


def _number(value: float) -> str:
    """``3``, ``0.5``; a large power of two as ``2**62``."""
    if float(value).is_integer():
        whole = int(value)
        if whole >= 2**20 and whole & (whole - 1) == 0:
            return f"2**{whole.bit_length() - 1}"
        return str(whole)
    return f"{value:g}"
