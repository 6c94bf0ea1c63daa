"""Hydra's repeated compositions of a sweep's points, cut to what is needed.

Hydra's sweeper composes every point of a batch once to check it (``Sweeper.validate_batch_is_legal``:
"this repeats work the launcher will do"), then the launcher composes it again to run it. A
qrt-run sweep has already composed and checked every one of its points before the first one
starts (:func:`qrt_runner.sweep.points.check_points`), so while such a sweep is open:

* the sweeper's check is skipped;
* the launcher composes one point of each shape (the same group choices and the same keys set)
  and derives the others from it, as Hydra's composition would: a copy of the composed config,
  the point's ``key=value`` overrides applied with Hydra's own rule (``OmegaConf.update`` with
  merge, in struct mode), and its ``hydra.overrides.task`` and ``hydra.job.override_dirname``
  set to the point's. A point that differs in anything else is composed by Hydra.

A composition takes 0.1-0.3 s per point (most of a small point's overhead); a derived point a
few milliseconds. Sweeps whose points were not all checked (an optimising sweeper, more than
``MAX_CHECKED_POINTS``) keep Hydra's compositions.

Hydra's joblib launcher composes each point in the worker that runs it, with the config loader
it pickles to every point. The checked points travel on that loader (:class:`_CheckedPoints`):
unpickled in a worker, they install the same shortcuts there, so each worker composes one point
of each shape (the first point's shape comes composed). A point is derived only through a
loader that carries the checked points of the current sweep: a reused worker running a later
sweep forgets the earlier one's, and a later sweep without checked points is composed by Hydra.
"""

from __future__ import annotations

import copy
import uuid
from typing import Any

from qrt_runner.adapters import hydra as hydra_internals

_checked: set[tuple[str, ...]] = set()
_composed: dict[tuple, Any] = {}  # a composed config per point shape, while the sweep is open
_installed = False
_sweep: str | None = None  # the open sweep's token (in a worker: the sweep of its points)
_LOADER_ATTRIBUTE = "_qrt_checked_points"


class _CheckedPoints:
    """The checked points (and compositions), on Hydra's config loader: pickled with it to a
    launcher's worker, they install the shortcuts there."""

    def __init__(self, sweep: str, points: tuple[tuple[str, ...], ...], composed: dict[tuple, Any]) -> None:
        self.sweep, self.points, self.composed = sweep, points, composed

    def __reduce__(self) -> tuple:
        return (_in_worker, (self.sweep, self.points, self.composed))


def _in_worker(sweep: str, points: tuple[tuple[str, ...], ...], composed: dict[tuple, Any]) -> _CheckedPoints:
    if sweep != _sweep:
        sweep_closed()
        _remember(sweep, points)
        _composed.update(composed)
    return _CheckedPoints(sweep, points, composed)


def points_checked(points: list[list[str]], master_config: Any = None) -> None:
    """Record the points ``check_points`` composed and checked, install the shortcuts once, and
    put the points on Hydra's config loader for the launcher's workers. With ``master_config``
    (a launcher that composes in its workers), the first point is composed here, once, and its
    composition travels with them."""
    from hydra.core.global_hydra import GlobalHydra

    checked = tuple(tuple(point) for point in points)
    sweep = uuid.uuid4().hex
    _remember(sweep, checked)
    if not GlobalHydra.instance().is_initialized():
        return
    loader = GlobalHydra.instance().config_loader()
    marker = _CheckedPoints(sweep, checked, {})
    setattr(loader, _LOADER_ATTRIBUTE, marker)
    if master_config is not None and checked:
        try:
            loader.load_sweep_config(master_config, list(checked[0]))
        except Exception:  # noqa: BLE001 - the workers compose it themselves (and report what fails)
            _composed.clear()
        marker.composed = dict(_composed)


def _remember(sweep: str, points: tuple[tuple[str, ...], ...]) -> None:
    global _installed, _sweep
    from hydra.plugins.sweeper import Sweeper

    _sweep = sweep
    _checked.update(points)
    if _installed:
        return
    loader_class: Any = hydra_internals.config_loader_class()
    original_check = Sweeper.validate_batch_is_legal
    original_load = loader_class.load_sweep_config

    def validate_batch_is_legal(self: Any, batch: Any) -> None:
        if not all(tuple(overrides) in _checked for overrides in batch):
            original_check(self, batch)

    def load_sweep_config(self: Any, master_config: Any, sweep_overrides: list[str]) -> Any:
        marker = getattr(self, _LOADER_ATTRIBUTE, None)  # (a reused worker's later sweep may have none)
        if marker is None or marker.sweep != _sweep or tuple(sweep_overrides) not in _checked:
            return original_load(self, master_config, sweep_overrides)
        return _derived(lambda: original_load(self, master_config, sweep_overrides), master_config, sweep_overrides)

    Sweeper.validate_batch_is_legal = validate_batch_is_legal  # type: ignore[method-assign]
    loader_class.load_sweep_config = load_sweep_config
    _installed = True


def _derived(compose: Any, master_config: Any, sweep_overrides: list[str]) -> Any:
    """The point's config: derived from the composed config of its shape, or composed."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from omegaconf import OmegaConf, read_write

    from qrt_runner.sweep.points import plain_value

    parsed = OverridesParser.create().parse_overrides(list(sweep_overrides))
    plain = [override for override in parsed if plain_value(override)]
    other = [override for override in parsed if not plain_value(override)]
    plain_keys = tuple(override.key_or_group for override in plain)
    if {override.key_or_group for override in other} & set(plain_keys):
        return compose()  # a key both set and added or deleted: Hydra's order decides
    shape = (_sweep, tuple(override.input_line for override in other), plain_keys)
    base = _composed.get(shape)
    if base is None:
        cfg = compose()
        _composed[shape] = copy.deepcopy(cfg)
        return cfg
    cfg = copy.deepcopy(base)
    with read_write(cfg):
        hydra_internals.apply_overrides(plain, cfg)
        cfg.hydra.overrides.task = list(sweep_overrides)
        dirname = cfg.hydra.job.config.override_dirname
        cfg.hydra.job.override_dirname = hydra_internals.overrides_dirname(
            parsed,
            kv_sep=dirname.kv_sep,
            item_sep=dirname.item_sep,
            exclude_keys=dirname.exclude_keys,
        )
    OmegaConf.copy_cache(from_config=master_config, to_config=cfg)
    return cfg


def sweep_closed() -> None:
    """Forget the checked points and their compositions (a later sweep in this process is
    checked again)."""
    global _sweep
    from hydra.core.global_hydra import GlobalHydra

    _checked.clear()
    _composed.clear()
    _sweep = None
    if GlobalHydra.instance().is_initialized():
        loader = GlobalHydra.instance().config_loader()
        if hasattr(loader, _LOADER_ATTRIBUTE):
            delattr(loader, _LOADER_ATTRIBUTE)
