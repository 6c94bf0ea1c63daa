"""Hydra's Optuna sweeper, kept going by trials that produce no objective.

Before any trial, :func:`check_sweeper` refuses what would make every trial, or the study itself,
fail: a direction that is not one of minimize and maximize (a run returns one objective), no trials,
and a search-space value that never composes (a type the key does not take, an option that does
not exist). Whether a trial's config is valid as a whole is checked when it runs.

A trial whose run produced no objective (its values make an invalid config, or the run failed)
returns None (:func:`qrt_runner.runs.task.run_task`); the sweeper records it as a failed trial and
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

from qrt_runner.adapters.hydra import OPTUNA_SWEEPER_LOGGER, reports_trial_without_objective
from qrt_runner.adapters.optuna import is_no_completed_trial_error
from qrt_runner.errors import ConfigError

__all__ = ["check_sweeper", "is_optuna", "keep_going"]

_installed = False


def is_optuna(config: Any) -> bool:
    """Whether the sweep's sweeper is Hydra's Optuna sweeper."""
    return str(config.hydra.sweeper.get("_target_", "")).endswith("OptunaSweeper")


class _TrialWithoutObjective(logging.Filter):
    """Drops the sweeper's lines about trials that returned no objective."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not reports_trial_without_objective(record.getMessage())


def keep_going() -> None:
    """Quiet the sweeper's lines about trials without an objective, and let a study without any
    completed trial end without a traceback (once per process)."""
    global _installed
    if _installed:
        return
    from hydra_plugins.hydra_optuna_sweeper.optuna_sweeper import OptunaSweeper

    logging.getLogger(OPTUNA_SWEEPER_LOGGER).addFilter(_TrialWithoutObjective())
    original = OptunaSweeper.sweep

    def sweep(self: Any, arguments: list[str]) -> None:
        try:
            return original(self, arguments)
        except ValueError as exc:
            if not is_no_completed_trial_error(exc):
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


def check_sweeper(config: Any, config_name: str) -> None:
    """Refuse an Optuna sweep that cannot run a useful trial, before any runs.

    Raises:
        ConfigError: naming the sweeper's key, or the search space's key and the value it may draw.
    """
    from omegaconf import ListConfig

    sweeper = config.hydra.sweeper
    direction = sweeper.get("direction")
    name = getattr(direction, "name", direction)  # (optuna's Direction enum, or its name)
    if isinstance(direction, (list, ListConfig)) or name not in ("minimize", "maximize"):
        raise ConfigError(
            "hydra.sweeper.direction",
            direction if isinstance(direction, str) else str(list(direction) if direction is not None else None),
            "must be minimize or maximize: a run returns one objective",
            "set hydra.sweeper.direction=minimize or maximize",
        )
    for key in ("n_trials", "n_jobs"):
        value = sweeper.get(key)
        if not isinstance(value, int) or value < 1:
            raise ConfigError(f"hydra.sweeper.{key}", value, "must be at least 1", f"set hydra.sweeper.{key}=1 or more")
    _check_search_space(config, config_name)


def _check_search_space(config: Any, config_name: str) -> None:
    """Every value a choice can take, and one that each interval or range may draw, composed with
    the sweep's own overrides."""
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    from qrt_runner.runs.errors import config_error, one_line
    from qrt_runner.sweep import points as p

    fixed = p.fixed_overrides(config)
    bases: dict[tuple[str, ...], Any] = {}
    for override in p.parsed_overrides(config):
        if not override.is_sweep_override():
            continue
        key = override.get_key_element()
        for value in _samples(override):
            try:
                p.compose_point(bases, config_name, [*fixed, f"{key}={value}"])
            except (OmegaConfBaseException, HydraException) as exc:
                space = str(override.input_line).partition("=")[2]
                if isinstance(exc, HydraException):
                    detail, fix = one_line(exc), f"take {value} out of {space}"
                else:
                    error = config_error(exc)
                    detail, fix = f"{error.key}={error.value!r}: {error.problem}", error.fix
                    if override.is_interval_sweep() and isinstance(value, float):
                        fix = f"for an integer key use int({space}), or choice(...)"
                raise ConfigError(key, space, f"Optuna may draw {value}, and then {detail}", fix) from None


def _samples(override: Any) -> list[Any]:
    """Values of a sweep override as Optuna's trials set them: every choice; a range's ends; a
    point inside an interval (a float unless both ends are integers, as ``int(interval(...))`` makes them)."""
    from hydra.core.override_parser.types import Transformer

    if override.is_interval_sweep():
        interval = override.value()
        if isinstance(interval.start, int) and isinstance(interval.end, int):
            return [interval.start, interval.end]
        return [interval.start + (interval.end - interval.start) / 3]
    values = list(override.sweep_iterator(transformer=Transformer.encode))
    return values if override.is_choice_sweep() else [values[0], values[-1]] if values else []
