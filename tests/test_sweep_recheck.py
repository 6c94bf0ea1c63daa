"""A sweep's points are composed once by Hydra's launcher, not a second time by its sweeper, and
points of the same shape are derived from one composition, identical to Hydra's own."""

from __future__ import annotations

import pytest
import yaml
from hydra._internal.config_loader_impl import ConfigLoaderImpl
from hydra.plugins.sweeper import Sweeper
from omegaconf import OmegaConf

from conftest import run_cli
from qrt_runner.config.compose import compose_config
from qrt_runner.sweep import recheck


class _Counting(Sweeper):
    """A sweeper whose own validation counts the batches it is asked to compose."""

    def __init__(self):
        self.composed: list = []
        self.config = object()

    def setup(self, *args, **kwargs):  # pragma: no cover - abstract in Hydra
        pass

    def sweep(self, arguments):  # pragma: no cover - abstract in Hydra
        pass


def test_checked_points_are_not_composed_again_and_others_are(monkeypatch):
    loads = []

    class Loader:
        def load_sweep_config(self, master_config, sweep_overrides):
            loads.append(sweep_overrides)

    sweeper = _Counting()
    sweeper.hydra_context = type("Context", (), {"config_loader": Loader()})()
    monkeypatch.setattr(Sweeper, "validate_batch_is_legal", Sweeper.validate_batch_is_legal)
    monkeypatch.setattr(ConfigLoaderImpl, "load_sweep_config", ConfigLoaderImpl.load_sweep_config)
    monkeypatch.setattr(recheck, "_installed", False)
    recheck.points_checked([["a=1", "b=x"], ["a=2", "b=x"]])
    try:
        sweeper.validate_batch_is_legal([["a=1", "b=x"], ["a=2", "b=x"]])
        assert loads == []  # checked by qrt-run before the sweep started
        sweeper.validate_batch_is_legal([["a=3", "b=x"]])
        assert loads == [["a=3", "b=x"]]  # never checked: Hydra composes it
    finally:
        recheck.sweep_closed()
    sweeper.validate_batch_is_legal([["a=1", "b=x"]])
    assert loads[-1] == ["a=1", "b=x"]  # the sweep is closed: back to Hydra's check


@pytest.mark.slow
@pytest.mark.parametrize(
    "launcher", [[], ["hydra/launcher=joblib", "hydra.launcher.n_jobs=2"]], ids=["basic", "joblib"]
)
def test_points_derived_from_one_composition_have_the_config_hydra_composes(tmp_path, launcher):
    """With joblib, the workers derive the points (the checked points reach them on the loader)."""
    points = ["experiment=ghz_sampler", "tracking=none", "primitive.default_shots=32", "circuit.num_qubits=2,3"]
    proc = run_cli(["-m", *points, "seed=5,6", "backend.max_parallel_threads=1", *launcher], cwd=tmp_path, timeout=300)
    assert proc.returncode == 0, proc.stderr
    run_dirs = sorted(tmp_path.glob("multirun/*/*/[0-9]"))
    assert len(run_dirs) == 4
    for run_dir in run_dirs:
        overrides = yaml.safe_load((run_dir / ".hydra" / "overrides.yaml").read_text())
        hydra_node = yaml.safe_load((run_dir / ".hydra" / "hydra.yaml").read_text())["hydra"]
        assert hydra_node["overrides"]["task"] == overrides
        assert "QRT_SWEEP" in hydra_node["job"]["env_set"]  # composed with the sweep's context
        assert hydra_node["job"]["override_dirname"] == ",".join(sorted(overrides))
        written = yaml.safe_load((run_dir / ".hydra" / "config.yaml").read_text())
        assert written == OmegaConf.to_container(compose_config(overrides)), overrides
