"""Skip the second composition of every point that Hydra's sweeper does to validate a batch.

Hydra's sweeper composes every point of a batch once to check it (``Sweeper.validate_batch_is_legal``:
"this repeats work the launcher will do"), then the launcher composes it again to run it. A
qrt-run sweep has already composed and checked every one of its points before the first one
starts (:func:`qrt_runner.sweep.points.check_points`), so while such a sweep is open the repeat
is skipped: one composition per point instead of two (about 85 ms each). Sweeps whose points
were not all checked (an optimising sweeper, more than ``MAX_CHECKED_POINTS``) keep Hydra's check.
"""

from __future__ import annotations

from typing import Any

_checked: set[tuple[str, ...]] = set()
_installed = False


def points_checked(points: list[list[str]]) -> None:
    """Record the points ``check_points`` composed and checked, and install the skip once."""
    global _installed
    from hydra.plugins.sweeper import Sweeper

    _checked.update(tuple(point) for point in points)
    if _installed:
        return
    original = Sweeper.validate_batch_is_legal

    def validate_batch_is_legal(self: Any, batch: Any) -> None:
        if not all(tuple(overrides) in _checked for overrides in batch):
            original(self, batch)

    Sweeper.validate_batch_is_legal = validate_batch_is_legal  # type: ignore[method-assign]
    _installed = True


def sweep_closed() -> None:
    """Forget the checked points (a later sweep in this process is checked again)."""
    _checked.clear()
