"""``qrt-run function pack``: a folder the gateway runs as a Qiskit Function.

The folder holds qrt_runner itself (its package and config tree, copied from this installation),
so the gateway installs only third-party ``dependencies``; the entrypoint composes the packed
overrides there exactly as ``qrt-run <overrides>`` does here.
"""

from __future__ import annotations

import json
import re
import shutil
from importlib.resources import files
from pathlib import Path

from qrt_runner.function.dependencies import function_dependencies
from qrt_runner.function.entrypoint import ENTRYPOINT_FILE, ENTRYPOINT_SCRIPT
from qrt_runner.function.errors import FunctionInputError
from qrt_runner.function.folder import FUNCTION_FILE, FunctionFolder

__all__ = ["ARGUMENTS_SCHEMA", "pack_function"]

_TITLE = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")
_SWEEP_FLAGS = ("-m", "--multirun")
_BUILD_INFO = "_build_info.json"

#: What ``function.run(...)`` takes; the gateway checks arguments against it before a job starts.
ARGUMENTS_SCHEMA = {
    "type": "object",
    "properties": {
        "overrides": {"type": "array", "items": {"type": "string"}},
        "points": {"type": "array", "items": {"type": "array", "items": {"type": "string"}}},
        "fan_out": {"enum": ["auto", "ray", "serial"]},
    },
    "additionalProperties": False,
}


def pack_function(overrides: list[str], out: Path, title: str | None = None) -> FunctionFolder:
    """Check the config of ``overrides`` and write the function folder ``out``.

    Raises:
        ConfigError: the overrides do not make a valid run.
        FunctionInputError: a sweep, input files the folder cannot carry, a bad title or folder.
    """
    from omegaconf import OmegaConf

    from qrt_runner.config.compose import compose_config
    from qrt_runner.config.experiments import experiment_dirs, experiment_file
    from qrt_runner.config.spec import resolve_config
    from qrt_runner.runs.check import check
    from qrt_runner.runs.prepare import chosen_option

    if any(arg in _SWEEP_FLAGS for arg in overrides):
        raise FunctionInputError("a function packs one config; sweep it with qrt-run function run <title> -m key=a,b")
    cfg = compose_config(overrides)
    spec, _, _ = check(cfg)
    _refuse_input_files(spec)
    experiment = chosen_option(overrides, "experiment")
    title = title or f"qrt-{experiment or spec.circuit.name}"
    if not _TITLE.match(title):
        raise FunctionInputError(f"--title {title!r}: use letters, digits, '_', '.' and '-' only (at most 100)")
    out = _empty_folder(out)
    _copy_package(out)
    user_file = experiment_file(experiment)
    if user_file is not None and user_file.parent != experiment_dirs()[0]:  # the user's own overlay
        (out / "experiments").mkdir()
        shutil.copyfile(user_file, out / "experiments" / user_file.name)
    config = resolve_config(cfg)
    (out / "config.yaml").write_text(OmegaConf.to_yaml(config))
    (out / ENTRYPOINT_FILE).write_text(ENTRYPOINT_SCRIPT)
    folder = FunctionFolder(
        out,
        title,
        ENTRYPOINT_FILE,
        function_dependencies(),
        f"qrt_runner experiment: {' '.join(overrides) or 'the default config'}",
        _version(),
        ARGUMENTS_SCHEMA,
        list(overrides),
        {key: config["tracking"].get(key) for key in ("enabled", "uri", "experiment_name", "timeout_s")},
    )
    data = {name: value for name, value in folder.function_fields().items() if name != "working_dir"}
    data["qrt_runner"] = {"overrides": folder.overrides, "tracking": folder.tracking}
    (out / FUNCTION_FILE).write_text(json.dumps(data, indent=2) + "\n")
    return folder


#: What to do instead of each input file a packed function cannot carry, by its config key.
_INSTEAD = {
    "circuit.path": "use a circuit the config builds",
    "circuit.target": "use a circuit the config builds (a factory module is not packed)",
    "mitigation.resilience.layer_noise_model": "let the function learn the model or use the device's (leave it unset)",
    "mitigation.layer_noise.file": "use mitigation.layer_noise.source=device or learned",
}


def _refuse_input_files(spec) -> None:
    """The files a run reads (:func:`~qrt_runner.records.provenance.input_files`, what a local run
    keeps in ``inputs/``) would not be in the folder: the first one is refused in one line."""
    from qrt_runner.records.provenance import input_files

    found = input_files(spec)
    if found:
        key, path = found[0]
        instead = _INSTEAD.get(key, "use a config that reads no files")
        raise FunctionInputError(f"{key}={path}: a packed function carries no input files; {instead}")
    if spec.circuit.name == "factory":  # a module not found as a file is not in the folder either
        raise FunctionInputError(
            f"circuit.target={spec.circuit.target}: a packed function carries no factory module; "
            "use a circuit the config builds"
        )


def _empty_folder(out: Path) -> Path:
    """``out``, created, or emptied when it is an earlier function folder (anything else is refused)."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise FunctionInputError(f"--out {out}: exists and is not a folder; choose another path")
    if out.is_dir() and any(out.iterdir()):
        if not (out / FUNCTION_FILE).is_file():
            raise FunctionInputError(f"--out {out}: not empty and not a function folder; choose an empty or new folder")
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    return out


def _copy_package(out: Path) -> None:
    """qrt_runner's package with its config tree (``qrt_runner.conf``, ``qrt_runner.experiments``)
    and its source commit, as a wheel would lay them out."""
    from qrt_runner.records.provenance import source_commit

    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    package = out / "qrt_runner"
    shutil.copytree(str(files("qrt_runner")), package, ignore=ignore, dirs_exist_ok=True)
    for name in ("conf", "experiments"):
        if not (package / name).is_dir():  # an editable install keeps them beside the package
            shutil.copytree(str(files(f"qrt_runner.{name}")), package / name, ignore=ignore)
    commit, dirty = source_commit()
    (package / _BUILD_INFO).write_text(json.dumps({"commit": commit, "dirty": dirty}))
    metadata = out / f"qrt_runner-{_version()}.dist-info"  # so that runs record qrt_runner's version
    metadata.mkdir()
    (metadata / "METADATA").write_text(f"Metadata-Version: 2.1\nName: qrt_runner\nVersion: {_version()}\n")


def _version() -> str:
    from qrt_runner import __version__

    return __version__
