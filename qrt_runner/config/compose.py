"""Compose the shipped config tree from Python (notebooks, benchmarks, tests), as ``qrt-run`` does."""

from __future__ import annotations

from functools import lru_cache
from importlib.resources import files

from omegaconf import DictConfig

from qrt_runner.config.spec import RunSpec, build_spec


def config_dir() -> str:
    """The folder of the shipped config tree (``conf/``, installed as ``qrt_runner.conf``)."""
    return str(files("qrt_runner.conf"))


@lru_cache(maxsize=1)
def register_configs() -> None:
    """Register the structured schemas, the fake devices and the experiments, once per process."""
    from qrt_runner.config.experiments import register_experiments
    from qrt_runner.config.registration import register_schemas

    register_schemas()
    register_experiments()


def compose_config(overrides: list[str]) -> DictConfig:
    """The composed config for command-line style ``overrides`` (e.g. ``["experiment=vqe_h2"]``)."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    register_configs()
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=config_dir(), version_base=None):
        return compose(config_name="config", overrides=overrides)


def compose_spec(overrides: list[str]) -> RunSpec:
    """The validated :class:`RunSpec` for ``overrides`` (raises ConfigError on bad input)."""
    return build_spec(compose_config(overrides))
