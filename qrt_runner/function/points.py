"""``qrt-run function run -m key=a,b ...``: a sweep's points, expanded as Hydra's basic sweeper
expands ``qrt-run -m`` (every combination, the last key varying fastest)."""

from __future__ import annotations

import itertools

from qrt_runner.function.errors import FunctionInputError

__all__ = ["expand_points"]


def expand_points(overrides: list[str]) -> list[list[str]]:
    """One override list per combination of the sweep overrides (``key=a,b``, ``range(...)``...);
    the other overrides as given. What Hydra cannot list (``interval(...)``, a sweep it cannot
    parse) raises FunctionInputError in one line."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException

    try:
        parsed = OverridesParser.create().parse_overrides(overrides)
    except HydraException as exc:
        raise FunctionInputError(" ".join(str(exc).split())) from None
    choices = []
    for override in parsed:
        if not override.is_sweep_override():
            choices.append([override.input_line or ""])
            continue
        key = override.get_key_element()
        try:
            choices.append([f"{key}={value}" for value in override.sweep_string_iterator()])
        except HydraException as exc:
            raise FunctionInputError(
                f"{override.input_line}: not a list of points ({' '.join(str(exc).split())}); "
                "sweep with key=a,b, choice(...) or range(...)"
            ) from None
    return [list(point) for point in itertools.product(*choices)]
