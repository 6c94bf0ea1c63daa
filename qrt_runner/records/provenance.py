"""Where a run's numbers come from: the software, the device snapshot and the input files.

* :func:`environment`: qrt_runner's version and its own source commit (from the package's git
  work tree, or as baked into the package when it was built), Python, the platform, and the
  versions of the libraries that compute the numbers (SciPy drives COBYLA, L-BFGS-B and GMRES).
* :func:`device_snapshot`: a fake device's backend version, calibration date and a hash of its
  properties file, so that a changed snapshot shows in a replay.
* :func:`capture_inputs`: copies of the files a run reads (an OpenQASM file, a factory module, a
  layer noise model file, the experiment overlay), with their content hashes, kept in the run
  directory under ``inputs/``: a run can be replayed after they changed or vanished.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import json
import platform
import shutil
import subprocess
import sys
from dataclasses import asdict, dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

__all__ = ["Input", "capture_inputs", "device_snapshot", "environment", "input_files", "sha256_of"]

PACKAGES = ("qrt_runner", "qiskit", "qiskit-aer", "qiskit-ibm-runtime", "mlflow", "hydra-core", "numpy", "scipy")
INPUTS_DIR = "inputs"
_BUILD_INFO = "_build_info.json"


@functools.lru_cache(maxsize=1)
def environment() -> dict[str, Any]:
    """The software a run ran with (the same for every run of a process)."""
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            versions[name] = "unknown"
    commit, dirty = source_commit()
    return {
        "versions": versions,
        "qrt_runner_commit": commit,
        "qrt_runner_dirty": dirty,
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


_GIT_TIMEOUT_S = 5.0


def source_commit() -> tuple[str | None, bool]:
    """qrt_runner's own source commit: its git work tree's, else the one baked in at build time."""
    package = Path(__file__).resolve().parents[1]  # qrt_runner/
    commit, dirty = git_commit(package)
    if commit is not None and (package.parent / "pyproject.toml").is_file():
        return commit, dirty
    try:
        info = json.loads((package / _BUILD_INFO).read_text())
        return info.get("commit"), bool(info.get("dirty", False))
    except (OSError, ValueError):
        return None, False


def device_snapshot(device: Any) -> dict[str, Any] | None:
    """A fake device's calibration snapshot: backend version, properties date, properties hash."""
    if device is None:
        return None
    from qrt_runner.execution.devices import device_facts

    return {"name": device.name, **device_facts(device)}


def sha256_of(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@dataclass(frozen=True)
class Input:
    """A file a run read: which config key named it, where it was, its hash, and the kept copy."""

    key: str
    source: str
    sha256: str
    copy: str  # relative to the run directory


def input_files(spec: Any) -> list[tuple[str, Path]]:
    """The files a run of ``spec`` reads, each with the config key that names it (whether or not
    it exists): what :func:`capture_inputs` keeps, and what a packed function cannot carry."""
    found: list[tuple[str, Path]] = []
    circuit = spec.circuit
    if circuit.name == "qasm":
        found.append(("circuit.path", Path(circuit.path).expanduser()))
    elif circuit.name == "factory":
        module = _module_file(circuit.target.partition(":")[0])
        if module is not None:
            found.append(("circuit.target", module))
    elif circuit.name == "qpy":
        found.append(("circuit.path", Path(circuit.path).expanduser()))
    model = getattr(spec.mitigation.resilience, "layer_noise_model", None)
    if model:
        found.append(("mitigation.resilience.layer_noise_model", Path(model).expanduser()))
    layer_file = getattr(getattr(spec.mitigation, "layer_noise", None), "file", None)
    if layer_file and layer_file != model:
        found.append(("mitigation.layer_noise.file", Path(layer_file).expanduser()))
    return found


def capture_inputs(spec: Any, run_dir: Path, experiment_file: Path | None = None) -> list[Input]:
    """Copy the files ``spec`` reads into ``run_dir/inputs/`` and hash them."""
    found = input_files(spec)
    if experiment_file is not None:
        found.append(("experiment", experiment_file))
    captured = []
    folder = Path(run_dir) / INPUTS_DIR
    for key, path in found:
        if not path.is_file():
            continue
        folder.mkdir(parents=True, exist_ok=True)
        copy = folder / path.name
        shutil.copyfile(path, copy)
        captured.append(Input(key, str(path.resolve()), sha256_of(copy), f"{INPUTS_DIR}/{path.name}"))
    return captured


def inputs_record(inputs: list[Input]) -> list[dict[str, str]]:
    return [asdict(item) for item in inputs]


def _module_file(module_name: str) -> Path | None:
    """The source file of a factory module (None for built-in or namespace modules)."""
    module = sys.modules.get(module_name)
    origin = getattr(module, "__file__", None) if module is not None else None
    if origin is None:
        try:
            spec = importlib.util.find_spec(module_name)
        except (ImportError, ValueError):
            return None
        origin = spec.origin if spec is not None else None
    if origin is None or not origin.endswith(".py"):
        return None
    return Path(origin)


def git_commit(directory: Path) -> tuple[str | None, bool]:
    """The HEAD commit of the git work tree that contains ``directory``, and whether it is dirty.

    Dirty means tracked files differ from HEAD (staged or not); untracked files do not count,
    so run outputs written inside the repository do not mark it dirty. Never raises: a missing
    ``git`` executable, a directory outside any repository, a repository without commits or a
    slow ``git`` all give ``(None, False)``.
    """
    path = Path(directory).absolute()
    while not path.is_dir() and path != path.parent:
        path = path.parent
    head = _git(path, "rev-parse", "--verify", "HEAD")
    if not head:
        return None, False
    status = _git(path, "status", "--porcelain", "--untracked-files=no")
    return head, bool(status)


def _git(directory: Path, *args: str) -> str | None:
    """Output of ``git -C directory *args`` (stripped), or None when it fails in any way."""
    try:
        proc = subprocess.run(
            ["git", "-C", str(directory), *args], capture_output=True, text=True, timeout=_GIT_TIMEOUT_S, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return proc.stdout.strip() if proc.returncode == 0 else None
