"""Hydra's Optuna sweeper, kept going by trials that produce no objective.

A trial whose run produced no objective (its values make an invalid config, or the run failed)
returns None (:func:`qrt_runner.cli.task.run_task`); the sweeper records it as a failed trial and
asks for the next. Two things of the sweeper's own are adjusted, once per process, when a sweep
uses it:

* its log lines about such a trial ("Failed experiment: Return value must be float-castable.
  Got 'None'", and the ``max_failure_rate`` error after it) are dropped: the point has said in
  one line what went wrong, and the sweep's summary and exit code count it as failed;
* a study in which no trial completed has no best trial, and the sweeper raises where it would
  write ``optimization_results.yaml``: the sweep then closes like any other, every point failed.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

__all__ = ["is_optuna", "keep_going"]

_SWEEPER_LOGGER = "hydra_plugins.hydra_optuna_sweeper._impl"
_NO_VALUE = "Got 'None'"  # the sweeper's words for a trial that returned None
_NO_BEST = "No trials are completed"  # optuna's, for a study without a completed trial
_installed = False


def is_optuna(config: Any) -> bool:
    """Whether the sweep's sweeper is Hydra's Optuna sweeper."""
    return str(config.hydra.sweeper.get("_target_", "")).endswith("OptunaSweeper")


class _TrialWithoutObjective(logging.Filter):
    """Drops the sweeper's lines about trials that returned no objective."""

    def filter(self, record: logging.LogRecord) -> bool:
        return _NO_VALUE not in record.getMessage()


def keep_going() -> None:
    """Quiet the sweeper's lines about trials without an objective, and let a study without any
    completed trial end without a traceback (once per process)."""
    global _installed
    if _installed:
        return
    from hydra_plugins.hydra_optuna_sweeper.optuna_sweeper import OptunaSweeper

    logging.getLogger(_SWEEPER_LOGGER).addFilter(_TrialWithoutObjective())
    original = OptunaSweeper.sweep

    def sweep(self: Any, arguments: list[str]) -> None:
        try:
            return original(self, arguments)
        except ValueError as exc:
            if _NO_BEST not in str(exc):
                raise
            print(
                "qrt-run: no Optuna trial produced an objective, so the study has no best trial "
                "(no optimization_results.yaml); the sweep summary says why each failed",
                file=sys.stderr,
                flush=True,
            )
            return None

    OptunaSweeper.sweep = sweep  # type: ignore[method-assign]
    _installed = True
