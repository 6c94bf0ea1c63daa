"""Fake devices as runs use them: the device's target and calibration facts, kept between runs.

Building a fake device imports ``qiskit_ibm_runtime`` (1.5-4 s in a fresh process) and parses its
calibration files; a run needs only the device's :class:`~qiskit.transpiler.Target` (gates, their
errors and durations, qubit properties, ``dt``) and, for its records, the backend version,
calibration date and a hash of the properties file. :func:`device` gives them as a
:class:`Device`, a ``BackendV2`` that describes the device for transpilation, noise models and
records (it does not run circuits).

The first use of a device pickles its target and facts into the user's cache
(``$QRT_CACHE_DIR``, else ``$XDG_CACHE_HOME/qrt_runner``, else ``~/.cache/qrt_runner``) under a
key made of the device name, the versions of qiskit and qiskit-ibm-runtime and the SHA-256 of the
device's calibration files: a later process loads it in a millisecond without importing the
provider. A new version or changed file is a new key; an entry that cannot be read is rebuilt and
replaced; entries are written whole (a temporary file renamed). ``QRT_DEVICE_CACHE=0`` builds every
device from the provider. Scripts that want IBM's own objects use
:func:`~qrt_runner.execution.fake_backends.fake_backend`.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import pickle
import tempfile
from functools import cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from qiskit.providers import BackendV2, Options
from qiskit.transpiler import Target

from qrt_runner.execution.fake_backends import device_folders, fake_backend

__all__ = ["CACHE_DIR_ENV", "CACHE_OFF_ENV", "Device", "cache_dir", "device", "device_facts"]

CACHE_DIR_ENV = "QRT_CACHE_DIR"
CACHE_OFF_ENV = "QRT_DEVICE_CACHE"
_FORMAT = 1  # bumped when what an entry holds changes


class Device(BackendV2):
    """A fake device's target and calibration facts as a BackendV2 (``num_qubits``,
    ``coupling_map``, ``operation_names``, ``dt``, ``qubit_properties`` and the rest follow from the
    target)."""

    def __init__(self, name: str, target: Target, facts: dict[str, Any]):
        super().__init__(name=name, backend_version=facts.get("backend_version") or "")
        self._target = target
        self.facts = dict(facts)

    @property
    def target(self) -> Target:
        return self._target

    @property
    def max_circuits(self):
        return None

    @classmethod
    def _default_options(cls):
        return Options()

    def run(self, run_input, **options):
        raise NotImplementedError(f"{self.name} describes a device; qrt_runner's simulator runs its circuits")

    def __repr__(self) -> str:
        return f"Device({self.name!r}, {self.num_qubits} qubits)"


def device_facts(backend: Any) -> dict[str, Any]:
    """What the records say of a device's calibration: its backend version, the properties' date and
    the properties file's SHA-256 (where the device has them)."""
    if isinstance(backend, Device):
        return dict(backend.facts)
    facts: dict[str, Any] = {"backend_version": str(getattr(backend, "backend_version", ""))}
    properties = getattr(backend, "properties", None)
    if callable(properties):
        try:
            date = properties().last_update_date
            facts["properties_date"] = date.isoformat() if date is not None else None
        except Exception:  # devices without properties
            facts["properties_date"] = None
    folder, name = getattr(backend, "dirname", None), getattr(backend, "props_filename", None)
    if folder and name and (Path(folder) / name).is_file():
        facts["properties_sha256"] = hashlib.sha256((Path(folder) / name).read_bytes()).hexdigest()
    return facts


def cache_dir() -> Path:
    """Where devices are kept between runs."""
    given = os.environ.get(CACHE_DIR_ENV)
    if given:
        return Path(given).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "qrt_runner"


@cache
def device(name: str) -> Device:
    """The fake device called ``name`` (one per process; raises KeyError for an unknown name)."""
    key = _cache_key(name)
    if key is not None:
        path = cache_dir() / "devices" / f"{name}-{key}.pickle"
        kept = _load(path, name)
        if kept is not None:
            return kept
    built = fake_backend(name)  # KeyError for an unknown name
    found = Device(name, built.target, device_facts(built))
    if key is not None:
        _keep(path, found)
    return found


def _cache_key(name: str) -> str | None:
    """The entry's key, or None when the cache is off or the device's files are unknown."""
    if os.environ.get(CACHE_OFF_ENV, "").strip().lower() in ("0", "false", "no", "off"):
        return None
    folder = device_folders().get(name)
    if folder is None:
        return None
    digest = hashlib.sha256(f"{_FORMAT}:{name}".encode())
    for package in ("qiskit", "qiskit-ibm-runtime"):
        try:
            digest.update(f":{package}={version(package)}".encode())
        except PackageNotFoundError:
            return None
    for file in sorted(folder.glob("*.json")):
        digest.update(file.name.encode())
        digest.update(file.read_bytes())
    return digest.hexdigest()[:24]


def _load(path: Path, name: str) -> Device | None:
    try:
        with path.open("rb") as stream:
            form, target, facts = pickle.load(stream)
    except Exception:  # missing, or unreadable (an older or damaged entry): rebuilt and replaced
        return None
    if form != _FORMAT or not isinstance(target, Target) or not isinstance(facts, dict):
        return None
    return Device(name, target, facts)


def _keep(path: Path, found: Device) -> None:
    """Write the entry whole, or not at all (a read-only or full disk leaves the cache alone)."""
    partial = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, partial = tempfile.mkstemp(dir=path.parent, prefix=".partial-")
        with os.fdopen(handle, "wb") as stream:
            pickle.dump((_FORMAT, found.target, found.facts), stream, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(partial, path)
    except OSError:
        if partial is not None:
            with contextlib.suppress(OSError):
                os.unlink(partial)
