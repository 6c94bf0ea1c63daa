"""A sweep's points before they run: their overrides, and a check of every one of them.

With Hydra's basic sweeper (the default, whatever the launcher), the points are the cartesian
product of the sweep overrides, known before anything runs; each is composed and checked as its
run would check it, so that a bad value is refused in one line before any point runs (and
before a cluster queue is joined). Optimising sweepers draw their points as they go: there only
the sweep's own config is checked, and each trial is checked as it runs; one that is invalid is
a failed point, and the study goes on (:mod:`~qrt_runner.sweep.optuna`).
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable
from typing import Any, cast

from qrt_runner.config.schema import GROUPS
from qrt_runner.errors import ConfigError

__all__ = [
    "MAX_CHECKED_POINTS",
    "available_cores",
    "check_launcher",
    "check_points",
    "compose_point",
    "expand_points",
    "fixed_overrides",
    "parallel_points",
    "parsed_overrides",
    "swept_keys",
]

#: Points checked one by one before a sweep starts; larger sweeps check this many (the first).
MAX_CHECKED_POINTS = 1000


def is_basic_sweeper(config) -> bool:
    return str(config.hydra.sweeper.get("_target_", "")).endswith("BasicSweeper")


def parsed_overrides(config) -> list[Any]:
    """The sweep's overrides, parsed: ``hydra.sweeper.params`` first, then the command line's."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    overrides = list(config.hydra.overrides.task)
    params = config.hydra.sweeper.get("params") or {}
    overrides = [f"{key}={value}" for key, value in params.items()] + overrides
    return OverridesParser.create().parse_overrides(overrides)


def swept_keys(config) -> list[str]:
    """The keys a sweep varies (with the basic sweeper's syntax ``key=a,b`` or its ``params``, or
    the optimising sweeper's ``hydra.sweeper.params``)."""
    keys = [o.get_key_element() for o in parsed_overrides(config) if o.is_sweep_override()]
    if not is_basic_sweeper(config):
        keys += [str(key) for key in (config.hydra.sweeper.get("params") or {})]
    return list(dict.fromkeys(keys))


def fixed_overrides(config) -> list[str]:
    """The overrides every point shares (the sweep's own config)."""
    return [o.input_line for o in parsed_overrides(config) if not o.is_sweep_override()]


def expand_points(config) -> list[list[str]] | None:
    """Every point's overrides, in the basic sweeper's order; None for other sweepers."""
    if not is_basic_sweeper(config):
        return None
    choices = []
    for override in parsed_overrides(config):
        if override.is_sweep_override():
            key = override.get_key_element()
            choices.append([f"{key}={value}" for value in override.sweep_string_iterator()])
        else:
            choices.append([override.input_line])
    return [list(point) for point in itertools.product(*choices)]


def check_points(
    points: list[list[str]] | None,
    config_name: str,
    fixed: list[str],
    on_point: Callable[[int, Any], None] | None = None,
) -> None:
    """Compose and check every point (or, without a list, the sweep's own config).

    Points that differ only in plain values (``key=value`` on existing keys) share one Hydra
    composition; each applies its values to a copy of it, as Hydra would (struct mode refuses
    unknown keys, the schemas wrong types). Group choices (``backend=...``) and ``+``/``~``
    overrides get a composition of their own.

    ``on_point(number, cfg)`` is called with each valid point's composed config.

    Raises:
        ConfigError: for the first point that is invalid, naming it.
    """
    from omegaconf.errors import OmegaConfBaseException

    from qrt_runner.runs.check import check
    from qrt_runner.runs.errors import config_error

    bases: dict[tuple[str, ...], Any] = {}
    to_check = points[:MAX_CHECKED_POINTS] if points is not None else [fixed]
    for number, overrides in enumerate(to_check):
        try:
            cfg = compose_point(bases, config_name, overrides)
            check(cfg)
            if on_point is not None and points is not None:
                on_point(number, cfg)
        except (ConfigError, OmegaConfBaseException) as exc:
            error = exc if isinstance(exc, ConfigError) else config_error(exc)
            if points is None or len(points) == 1:
                raise error from None
            where = " ".join(o for o in overrides if o not in fixed) or " ".join(overrides)
            raise ConfigError(
                error.key, error.value, error.problem, f"{error.fix} (sweep point #{number}: {where})"
            ) from None


def compose_point(bases: dict[tuple[str, ...], Any], config_name: str, overrides: list[str]) -> Any:
    """A point's composed config: its plain ``key=value`` overrides applied, as Hydra would, to a
    copy of the composition of its other overrides (made once per ``bases``).

    Raises:
        OmegaConfBaseException, HydraException: the point does not compose.
    """
    import copy

    from hydra import compose
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from omegaconf import OmegaConf

    parsed = OverridesParser.create().parse_overrides(list(overrides))
    # hydra types input_line as optional; the parser always sets it
    composed = tuple(cast(str, o.input_line) for o in parsed if not plain_value(o))
    if composed not in bases:
        bases[composed] = compose(config_name=config_name, overrides=list(composed))
    cfg = copy.deepcopy(bases[composed])
    for override in parsed:
        if plain_value(override):
            OmegaConf.update(cfg, override.key_or_group, override.value(), merge=True)
    return cfg


_GROUPS = {*GROUPS, "experiment"}


def plain_value(override) -> bool:
    """``key=value`` on a config key (not a group choice, not hydra's, not ``+``/``++``/``~``)."""
    from hydra.core.override_parser.types import OverrideType

    key = override.key_or_group
    return (
        override.type == OverrideType.CHANGE
        and override.package is None
        and not override.is_sweep_override()
        and "/" not in key
        and key not in _GROUPS
        and not key.startswith("hydra")
    )


def check_launcher(launcher) -> None:
    """Refuse launcher settings that stop the sweep when it starts its points.

    Raises:
        ConfigError: naming the launcher's key.
    """
    if str(launcher.get("_target_", "")).endswith("JoblibLauncher") and launcher.get("n_jobs") == 0:
        raise ConfigError(
            "hydra.launcher.n_jobs",
            0,
            "joblib runs no points with 0 workers",
            "set a number of workers, or -1 for one per core (-2: all cores but one)",
        )
    if str(launcher.get("_target_", "")).endswith("RayLauncher"):
        asked = ((launcher.get("ray") or {}).get("remote") or {}).get("num_cpus")
        if asked is not None and (isinstance(asked, bool) or not isinstance(asked, int | float) or asked < 1):
            raise ConfigError(
                "hydra.launcher.ray.remote.num_cpus",
                asked,
                "each point runs at least one Aer thread, on a CPU of its own (below 1, Ray would run more "
                "points on a node than it has CPUs)",
                "set 1 or more CPUs per point, or leave it out (the sweep shares the cluster's CPUs)",
            )


def parallel_points(launcher, num_points: int | None, cores: int) -> int:
    """How many points the launcher runs at once on this machine (1 for one at a time)."""
    target = str(launcher.get("_target_", ""))
    limit = num_points or cores
    if target.endswith("JoblibLauncher"):
        n_jobs = int(launcher.get("n_jobs") or -1)
        wanted = n_jobs if n_jobs > 0 else max(1, cores + 1 + n_jobs)
    elif target.endswith("submitit_launcher.LocalLauncher"):
        wanted = int(launcher.get("array_parallelism") or limit)
    elif target.endswith("RayLauncher"):
        remote = (launcher.get("ray") or {}).get("remote") or {}
        wanted = max(1, int(cores // max(1.0, float(remote.get("num_cpus") or 1))))
    else:  # the basic launcher, SLURM (each point has its own allocation), unknown launchers
        wanted = 1
    return max(1, min(wanted, limit))


def available_cores() -> int:
    """CPU cores this process may use (its affinity mask where the platform has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1
