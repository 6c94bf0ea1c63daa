"""A sweep's points are composed once by Hydra's launcher, not a second time by its sweeper."""

from __future__ import annotations

from hydra.plugins.sweeper import Sweeper

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
