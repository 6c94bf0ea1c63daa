"""The fake IBM devices of ``qiskit_ibm_runtime.fake_provider``, by their backend names.

The names are read from the provider's source files (each device module sets
``backend_name = "fake_<device>"``) without importing ``qiskit_ibm_runtime`` (seconds), so that
listing them, as every ``qrt-run`` does to offer ``backend=fake_<device>``, is cheap. A device is
imported only when it is used.
"""

from __future__ import annotations

import importlib.util
import re
from functools import cache, lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from qiskit.providers import BackendV2

_BACKEND_NAME = re.compile(r"^\s+backend_name\s*=\s*[\"']([\w.-]+)[\"']", re.M)


def _device_name(class_name: str) -> str:
    """``FakeManilaV2`` -> ``fake_manila``, ``FakeFractionalBackend`` -> ``fake_fractional`` (the
    backend's own ``name``)."""
    stem = re.sub(r"(V2|Backend)$", "", class_name[len("Fake") :])
    return "fake_" + re.sub(r"(?<!^)(?=[A-Z])", "_", stem).lower()


@lru_cache(maxsize=1)
def _classes() -> dict[str, type]:
    from qiskit.providers import BackendV2
    from qiskit_ibm_runtime import fake_provider

    found = {}
    for attr in dir(fake_provider):
        cls = getattr(fake_provider, attr)
        if attr.startswith("Fake") and isinstance(cls, type) and issubclass(cls, BackendV2):
            found[_device_name(attr)] = cls
    return found


@lru_cache(maxsize=1)
def device_folders() -> dict[str, Path]:
    """Each fake device's folder (its module and calibration files), by backend name, read from the
    provider's source files; empty where the provider has another layout."""
    spec = importlib.util.find_spec("qiskit_ibm_runtime")
    folders = list(spec.submodule_search_locations or []) if spec is not None else []
    found: dict[str, Path] = {}
    for folder in folders:
        for module in (Path(folder) / "fake_provider" / "backends").glob("*/fake_*.py"):
            for name in _BACKEND_NAME.findall(module.read_text(encoding="utf-8")):
                found[name] = module.parent
    return found


@lru_cache(maxsize=1)
def fake_backend_names() -> list[str]:
    """Names usable as ``backend=<name>``, sorted."""
    return sorted(device_folders() or _classes())  # another layout: ask the provider itself


@cache
def fake_backend(name: str) -> BackendV2:
    """The fake device called ``name`` (one instance per process)."""
    try:
        cls = _classes()[name]
    except KeyError:
        raise KeyError(name) from None
    return cls()
