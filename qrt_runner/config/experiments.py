"""Experiment overlays: ``experiment=<name>`` from the shipped folder and from ``./experiments``."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from hydra.core.config_store import ConfigStore
from omegaconf import DictConfig, OmegaConf


def experiment_dirs(cwd: Path | None = None) -> list[Path]:
    """Shipped experiments first, then the user's ``./experiments`` (which wins on a name clash)."""
    shipped = Path(str(files("qrt_runner.experiments")))
    user = (cwd or Path.cwd()) / "experiments"
    dirs = [shipped]
    if user.is_dir() and user.resolve() != shipped.resolve():
        dirs.append(user)
    return dirs


#: Overlays that could not be read, by name: "file, line N: problem". A broken file affects only
#: the runs that choose it (``experiment=<name>`` then says what is wrong with it).
BROKEN: dict[str, str] = {}


def register_experiments(cwd: Path | None = None) -> list[str]:
    """Register every ``*.yaml`` overlay as option ``experiment=<stem>`` (package ``_global_``)."""
    store = ConfigStore.instance()
    names = []
    for directory in experiment_dirs(cwd):
        for path in sorted(directory.glob("*.yaml")):
            try:
                node = OmegaConf.load(path)
                if not isinstance(node, DictConfig):
                    raise ValueError("the file is not a mapping of config keys")
            except Exception as exc:  # YAML syntax, unreadable or binary file
                BROKEN[path.stem] = _problem(path, exc)
                continue
            BROKEN.pop(path.stem, None)
            store.store(group="experiment", name=path.stem, node=node, package="_global_")
            names.append(path.stem)
    return names


def _problem(path: Path, exc: Exception) -> str:
    mark = getattr(exc, "problem_mark", None)
    where = f"{path}, line {mark.line + 1}" if mark is not None else str(path)
    detail = getattr(exc, "problem", None) or " ".join(str(exc).split())[:200]
    return f"{where}: {detail}"


def experiment_file(name: str | None, cwd: Path | None = None) -> Path | None:
    """The overlay file ``experiment=<name>`` reads (the user's folder wins), or None."""
    if not name:
        return None
    found = None
    for directory in experiment_dirs(cwd):
        if (directory / f"{name}.yaml").is_file():
            found = directory / f"{name}.yaml"
    return found
