"""Experiment overlays: ``experiment=<name>`` from the shipped folder and from ``./experiments``."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from hydra.core.config_store import ConfigStore
from omegaconf import OmegaConf


def experiment_dirs(cwd: Path | None = None) -> list[Path]:
    """Shipped experiments first, then the user's ``./experiments`` (which wins on a name clash)."""
    shipped = Path(str(files("qrt_runner.experiments")))
    user = (cwd or Path.cwd()) / "experiments"
    dirs = [shipped]
    if user.is_dir() and user.resolve() != shipped.resolve():
        dirs.append(user)
    return dirs


def register_experiments(cwd: Path | None = None) -> list[str]:
    """Register every ``*.yaml`` overlay as option ``experiment=<stem>`` (package ``_global_``)."""
    store = ConfigStore.instance()
    names = []
    for directory in experiment_dirs(cwd):
        for path in sorted(directory.glob("*.yaml")):
            store.store(group="experiment", name=path.stem, node=OmegaConf.load(path), package="_global_")
            names.append(path.stem)
    return names
