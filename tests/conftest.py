"""Shared fixtures: compose the real config tree, run the CLI in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from importlib.resources import files
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra

from qrt_runner.config.experiments import register_experiments
from qrt_runner.config.schema import register_configs
from qrt_runner.spec import build_spec

REPO = Path(__file__).resolve().parents[1]
QRT_RUN = Path(sys.executable).with_name("qrt-run")
# Small and single-threaded: two xdist workers share the 2 CPU cores.
FAST = ["backend.max_parallel_threads=1", "tracking=none"]

register_configs()
register_experiments()


def compose_config(overrides: list[str]):
    """Compose the shipped config tree with ``overrides`` (as ``qrt-run`` would)."""
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(files("qrt_runner.conf")), version_base=None):
        return compose(config_name="config", overrides=overrides)


def spec_for(overrides: list[str]):
    return build_spec(compose_config(overrides))


def run_cli(args: list[str], cwd: Path, timeout: float = 180, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run the installed ``qrt-run`` in a subprocess."""
    full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    return subprocess.run(
        [str(QRT_RUN), *args], cwd=cwd, capture_output=True, text=True, timeout=timeout, env=full_env
    )


@pytest.fixture
def compose_spec():
    return spec_for
