"""A sweep's points are composed once by Hydra's launcher, not a second time by its sweeper, and
points of the same shape are derived from one composition, identical to Hydra's own."""

from __future__ import annotations

import pytest
import yaml
from hydra._internal.config_loader_impl import ConfigLoaderImpl
from hydra.plugins.sweeper import Sweeper
from omegaconf import OmegaConf

from conftest import HANG_S, run_cli
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
    proc = run_cli(
        ["-m", *points, "seed=5,6", "backend.max_parallel_threads=1", *launcher], cwd=tmp_path, timeout=HANG_S
    )
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


def test_only_a_loader_carrying_the_current_sweeps_points_derives_them(monkeypatch):
    """A reused joblib worker that runs a later sweep without checked points composes them all."""
    composed = []

    def hydra_load(self, master_config, sweep_overrides):
        composed.append(list(sweep_overrides))
        job = {
            "override_dirname": "",
            "config": {"override_dirname": {"kv_sep": "=", "item_sep": ",", "exclude_keys": []}},
        }
        values = dict(override.split("=") for override in sweep_overrides)
        return OmegaConf.create(
            {"a": int(values["a"]), "b": values["b"], "hydra": {"overrides": {"task": []}, "job": job}}
        )

    monkeypatch.setattr(Sweeper, "validate_batch_is_legal", Sweeper.validate_batch_is_legal)
    monkeypatch.setattr(ConfigLoaderImpl, "load_sweep_config", hydra_load)
    monkeypatch.setattr(recheck, "_installed", False)
    points = (("a=1", "b=x"), ("a=2", "b=x"))
    master = OmegaConf.create({})

    class Loader:
        pass

    try:
        carried = recheck._in_worker("sweep-1", points, {})  # as unpickled in a worker
        with_points, without = Loader(), Loader()
        setattr(with_points, recheck._LOADER_ATTRIBUTE, carried)
        derived = ConfigLoaderImpl.load_sweep_config(with_points, master, list(points[1]))
        assert ConfigLoaderImpl.load_sweep_config(with_points, master, list(points[0])).a == 1
        assert derived.a == 2 and composed == [list(points[1])]  # one composition, one derived
        ConfigLoaderImpl.load_sweep_config(without, master, list(points[0]))
        assert composed[-1] == list(points[0]) and len(composed) == 2  # no points on it: Hydra's
        stale = Loader()
        setattr(stale, recheck._LOADER_ATTRIBUTE, recheck._CheckedPoints("sweep-0", points, {}))
        ConfigLoaderImpl.load_sweep_config(stale, master, list(points[1]))
        assert len(composed) == 3  # an earlier sweep's points: Hydra's
    finally:
        recheck.sweep_closed()
