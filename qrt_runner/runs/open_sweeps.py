"""The sweeps this process opened and will close (their points may hand the end of their records
to :mod:`~qrt_runner.background`); the sweep layer says when one opens and closes."""

from __future__ import annotations

from pathlib import Path

__all__ = ["closed", "closes_here", "opened"]

_OPEN: set[str] = set()


def _key(sweep_dir: str | Path) -> str:
    return str(Path(sweep_dir).resolve())


def opened(sweep_dir: str | Path) -> None:
    _OPEN.add(_key(sweep_dir))


def closed(sweep_dir: str | Path) -> None:
    _OPEN.discard(_key(sweep_dir))


def closes_here(sweep_dir: str | Path) -> bool:
    """Whether this process opened the sweep of ``sweep_dir`` and will close it."""
    return _key(sweep_dir) in _OPEN
