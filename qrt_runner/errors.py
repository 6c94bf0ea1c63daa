"""Errors that the CLI reports as one line."""

from __future__ import annotations

from typing import Any


class ConfigError(ValueError):
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
