"""A recorded run, read back from its run directory or from the tracking store alone, and run again.

A run's record is its resolved ``config.yaml`` (every effective value, seeds included), its
``results.json`` and the copies of the files it read (``inputs/``). :func:`load_record` reads
them from a run directory or downloads them by MLflow run id. :func:`replay_overlay` turns the
record into an experiment overlay: the group options it chose (``override /backend:
fake_manila``) and every recorded value, with input paths pointing at the kept copies, so that
the current code runs exactly the recorded work (an option the record left unset takes this
version's default: where that changed, the comparison's config section lists the effective
mitigation options that differ). Overrides given with the replay make a
variation: a value replaces the recorded one; a group choice takes that option's defaults.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qrt_runner.errors import ConfigError

__all__ = ["Record", "load_record", "replay_overlay"]

REPLAY_ENV = "QRT_REPLAY"
# Groups whose option is named by the group's own ``name`` key; the others are presets of values.
_NAMED_GROUPS = ("circuit", "observables", "primitive", "backend", "task")


@dataclass
class Record:
    """What a run recorded, on this machine."""

    source: str  # the run directory or run id it was read from
    run_id: str | None  # its id in the store (None: a run directory of an untracked run)
    folder: Path  # where config.yaml, results.json and inputs/ are
    config: dict
    results: dict
    overrides: list[str]
    temporary: bool = False  # folder is a download from the store, removed by discard()

    def discard(self) -> None:
        """Remove a record downloaded from the store (a run directory is left alone)."""
        if self.temporary:
            shutil.rmtree(self.folder, ignore_errors=True)


def load_record(source: str, uri: str | None, timeout_s: float = 10.0) -> Record:
    """The record of a run directory, or of an MLflow run id in the store at ``uri``.

    Raises:
        ConfigError: no such directory or run, no record in it, or the store cannot be reached.
    """
    path = Path(source).expanduser()
    if path.is_dir():
        return _from_folder(source, path)
    if "/" in source or source.startswith("."):
        raise ConfigError(
            "run", source, "is neither a run directory nor an MLflow run id", "give a run directory or a run id"
        )
    return _from_store(source, uri or "sqlite:///mlflow.db", timeout_s)


def _from_folder(source: str, folder: Path) -> Record:
    missing = [name for name in ("config.yaml", "results.json") if not (folder / name).is_file()]
    if missing:
        raise ConfigError(
            "run", source, f"has no record ({', '.join(missing)} missing)", "give the run directory of a qrt-run run"
        )
    config, results = _read(folder, source)
    overrides = _overrides(folder)
    run_id = _run_id(folder)
    return Record(source, run_id, folder, config, results, overrides)


def _from_store(run_id: str, uri: str, timeout_s: float) -> Record:
    from qrt_runner.tracking import TrackingUnavailable, live_store

    live = live_store(uri, None, timeout_s)
    try:
        run = live.call(lambda store: store.run(run_id))
    except TrackingUnavailable as exc:
        raise ConfigError(
            "tracking.uri",
            uri,
            f"the store cannot be reached ({exc})",
            "check tracking.uri (or give the run directory)",
        ) from None
    except Exception:  # the store answered: no such run
        raise ConfigError(
            "run",
            run_id,
            f"no such run in {live.uri}",
            "give a run id from this store, its run directory, or tracking.uri=<its store>",
        ) from None
    folder = Path(tempfile.mkdtemp(prefix=f"qrt-replay-{run_id[:8]}-"))
    try:
        live.call(
            lambda store: [
                store.client.download_artifacts(run_id, name, str(folder)) for name in ("config.yaml", "results.json")
            ]
        )
        names = {a.path for a in live.call(lambda store: store.client.list_artifacts(run_id))}
        if "inputs" in names:
            live.call(lambda store: store.client.download_artifacts(run_id, "inputs", str(folder)))
    except Exception as exc:  # the run kept no record
        shutil.rmtree(folder, ignore_errors=True)
        raise ConfigError(
            "run",
            run_id,
            f"its record cannot be read from the store ({type(exc).__name__})",
            "give the run directory, or a run id of a qrt-run run",
        ) from None
    try:
        config, results = _read(folder, run_id)
    except ConfigError:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return Record(
        run_id, run_id, folder, config, results, json.loads(run.data.tags.get("overrides", "[]")), temporary=True
    )


def _read(folder: Path, source: str) -> tuple[dict, dict]:
    from omegaconf import OmegaConf

    try:
        config = OmegaConf.to_container(OmegaConf.load(folder / "config.yaml"), resolve=True)
        results = json.loads((folder / "results.json").read_text())
    except Exception as exc:  # damaged files
        raise ConfigError(
            "run",
            source,
            f"its record cannot be read ({type(exc).__name__}: {exc})",
            "give the run directory of a qrt-run run",
        ) from None
    if not isinstance(config, dict) or not isinstance(results, dict):
        raise ConfigError(
            "run", source, "its record is not a qrt-run record", "give the run directory of a qrt-run run"
        )
    return config, results


def _overrides(folder: Path) -> list[str]:
    from omegaconf import OmegaConf

    try:
        return [str(item) for item in OmegaConf.load(folder / ".hydra" / "overrides.yaml")]
    except Exception:  # a run directory without Hydra's record
        return []


def _run_id(folder: Path) -> str | None:
    from qrt_runner.tracking.journal import Journal

    state = Journal(folder).sync_state()
    return state.get("run_id") if state else None


def replay_overlay(record: Record, variation: list[str]) -> dict[str, Any]:
    """The experiment overlay that runs ``record`` again, with ``variation`` applied on top by Hydra.

    Raises:
        ConfigError: a variation that replaces the experiment itself.
    """
    config = {key: value for key, value in record.config.items() if key not in ("sweep",)}
    chosen = set()
    for override in variation:
        key = override.lstrip("+~").partition("=")[0]
        if key == "experiment":
            raise ConfigError(
                "experiment",
                override.partition("=")[2],
                "a replay runs the recorded experiment",
                "give overrides of keys and groups only (e.g. backend=fake_torino)",
            )
        if "." not in key and key in config:
            chosen.add(key)  # a new option for this group: its own defaults, not the recorded values
    for key in chosen:
        config.pop(key)
    _point_at_copies(config, record)
    defaults = [
        {f"override /{group}": config[group]["name"]}
        for group in _NAMED_GROUPS
        if group in config and isinstance(config[group], dict) and config[group].get("name")
    ]
    return {"defaults": defaults, **config}


def _point_at_copies(config: dict, record: Record) -> None:
    """Input paths of the config become the record's kept copies (the originals may be gone)."""
    for item in record.results.get("inputs") or []:
        copy = record.folder / item["copy"]
        if not copy.is_file():
            continue
        if item["key"] == "circuit.path" and "circuit" in config:
            config["circuit"]["path"] = str(copy)
        elif item["key"] == "mitigation.resilience.layer_noise_model":
            config.get("mitigation", {}).get("resilience", {})["layer_noise_model"] = str(copy)
        elif item["key"] == "mitigation.layer_noise.file":
            config.get("mitigation", {}).get("layer_noise", {})["file"] = str(copy)
    layer_noise = config.get("mitigation", {}).get("layer_noise") or {}
    if layer_noise.get("source") == "learned":  # a learned model is reused, not learned again
        learned = _learned_model(record)
        if learned is not None:
            layer_noise.update(source="file", file=str(learned))


def _learned_model(record: Record) -> Path | None:
    """The model file of a learned run: every job's learned layers (as its results hold them),
    or its ``layer_noise_model.json`` when the results hold none.

    Raises:
        ConfigError: when one model file cannot stand for every job's model (the jobs' models
            differ, or they learned different layers and left some unmodelled).
    """
    from qrt_runner.records.results import merged_layer_noise_model

    path = record.folder / "layer_noise_model.json"
    jobs = (record.results.get("mitigation") or {}).get("jobs") or []
    found = [job["layer_noise_model"] for job in jobs if (job or {}).get("layer_noise_model")]
    try:
        merged = merged_layer_noise_model(found)
    except ValueError as exc:
        raise ConfigError("run", str(record.folder), f"cannot be replayed: {exc}", "rerun it instead") from None
    if merged is None:
        return path if path.is_file() else None
    if merged is not found[0] and any(model.get("num_unmodelled_layers") for model in found):
        raise ConfigError(
            "run",
            str(record.folder),
            "cannot be replayed: its jobs learned different layers and left some unmodelled, which one model file "
            "cannot repeat",
            "rerun it instead",
        )
    if path.is_file() and json.loads(path.read_text()).get("layers") == merged["layers"]:
        return path
    if path.is_file():  # an older record's file holds the first job's layers only
        path = path.with_name("layer_noise_model.merged.json")
    path.write_text(json.dumps(merged))
    return path


def factory_folder(record: Record) -> Path | None:
    """The folder holding the kept copy of a factory module, to import it from first."""
    for item in record.results.get("inputs") or []:
        if item["key"] == "circuit.target" and (record.folder / item["copy"]).is_file():
            return (record.folder / item["copy"]).parent
    return None
