"""Hydra's private config loader, and undocumented parts of the plugins Hydra ships.

Checked against hydra-core 1.3.2 and 1.3.8, hydra-joblib-launcher 1.2.0 and hydra-optuna-sweeper
1.2.0 and 1.3.0: tests/test_adapters.py passes with each (with omegaconf 2.3.0 and 2.3.1).
hydra-core is held below 1.4, where ``hydra._internal`` may change. The plugins keep the range
pyproject.toml had: what this module names of them is a module to preload and a logger and its
words to filter, and when they change a sweep still runs (the preload logs a warning and the lines
are no longer filtered).

Hydra itself is imported only inside the functions, when called.
"""

from __future__ import annotations

from typing import Any

from qrt_runner.adapters.versions import check_versions

__all__ = [
    "JOBLIB_LAUNCHER_MODULE",
    "OPTUNA_SWEEPER_LOGGER",
    "SUPPORTED",
    "apply_overrides",
    "check_supported",
    "config_loader_class",
    "overrides_dirname",
    "reports_trial_without_objective",
]

SUPPORTED = {
    "hydra-core": ">=1.3.2,<1.4",
    "hydra-joblib-launcher": ">=1.2,<2",
    "hydra-optuna-sweeper": ">=1.2,<2",
}

# The joblib launcher's private module that runs a point in a worker (``hydra_plugins.
# hydra_joblib_launcher._core``), preloaded by the forkserver; public: none (the plugin's public
# module, ``joblib_launcher``, imports it only when a sweep launches).
JOBLIB_LAUNCHER_MODULE = "hydra_plugins.hydra_joblib_launcher._core"

# The logger of the Optuna sweeper's private module ``_impl`` (``logging.getLogger(__name__)``
# there); public: none (the sweeper documents no logger).
OPTUNA_SWEEPER_LOGGER = "hydra_plugins.hydra_optuna_sweeper._impl"


def check_supported() -> None:
    """Raise :class:`~qrt_runner.adapters.versions.UnsupportedVersion` unless the installed Hydra
    packages are in :data:`SUPPORTED`."""
    check_versions(__name__, SUPPORTED)


def config_loader_class() -> type:
    """``hydra._internal.config_loader_impl.ConfigLoaderImpl``, the class of Hydra's config loader
    (``GlobalHydra.instance().config_loader()``), whose ``load_sweep_config`` qrt_runner wraps.
    Public: ``hydra.core.config_loader.ConfigLoader`` is its abstract interface, which does not
    reach the implementation's method."""
    from hydra._internal.config_loader_impl import ConfigLoaderImpl

    return ConfigLoaderImpl


def apply_overrides(overrides: list[Any], cfg: Any) -> None:
    """Apply parsed ``key=value`` overrides to ``cfg`` with Hydra's own rule (in place), through
    ``ConfigLoaderImpl._apply_overrides_to_config``. Public: none (``OmegaConf.update(cfg, key,
    value, merge=True)`` is part of that rule; Hydra's handling of ``+``, ``++`` and ``~`` is not
    public)."""
    config_loader_class()._apply_overrides_to_config(overrides, cfg)  # type: ignore[attr-defined]


def overrides_dirname(overrides: list[Any], *, kv_sep: str, item_sep: str, exclude_keys: list[str]) -> str:
    """``hydra.job.override_dirname`` of parsed ``overrides``, through
    ``hydra._internal.config_loader_impl.get_overrides_dirname``. Public: none (Hydra sets it when
    it composes a job's config)."""
    from hydra._internal.config_loader_impl import get_overrides_dirname

    return get_overrides_dirname(overrides=overrides, kv_sep=kv_sep, item_sep=item_sep, exclude_keys=exclude_keys)


def reports_trial_without_objective(message: str) -> bool:
    """Whether a log line of the Optuna sweeper (:data:`OPTUNA_SWEEPER_LOGGER`) is its complaint
    about a trial that returned None (``... Got 'None'.``, undocumented wording). Public: none."""
    return "Got 'None'" in message
