"""The errors a user can cause or meet, each reported by the CLI as one line.

``QrtError`` is their base. Below it: :class:`ConfigError` (bad input, refused before anything
runs: exit 2) and :class:`CapacityError` (work too big for the machine, also refused up front),
:class:`JobError` (a job that could not finish: the run ends FAILED, exit 1) and
:class:`TrackingError` (the tracking store failed: the run goes on, exit 3).
"""

from __future__ import annotations

from typing import Any

__all__ = ["CapacityError", "ConfigError", "JobError", "QrtError", "TrackingError"]


class QrtError(Exception):
    """Base of qrt_runner's own errors."""


class ConfigError(QrtError, ValueError):
    """An invalid config value, refused before any circuit runs (CLI exit code 2).

    Args:
        key: dotted config key, e.g. ``circuit.num_qubits``.
        value: the offending value.
        problem: what is wrong with it.
        fix: what to change.
    """

    def __init__(self, key: str, value: Any, problem: str, fix: str):
        self.key, self.value, self.problem, self.fix = key, value, problem, fix
        super().__init__(f"{key}={value!r}: {problem}; {fix}")


class CapacityError(ConfigError):
    """Work that would not fit in this machine's memory (refused like bad input)."""


class JobError(QrtError, RuntimeError):
    """A job that could not finish: the simulator died or failed, or its session refused it."""


class TrackingError(QrtError, RuntimeError):
    """The tracking store failed or did not answer; the run is kept in its journal."""
