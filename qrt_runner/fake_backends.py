"""The fake IBM devices of ``qiskit_ibm_runtime.fake_provider``, by their backend names."""

from __future__ import annotations

import re
from functools import lru_cache

from qiskit.providers import BackendV2

_EXCLUDED = {"FakeFractionalBackend"}


def _device_name(class_name: str) -> str:
    """``FakeManilaV2`` -> ``fake_manila`` (the backend's own ``name``)."""
    stem = re.sub(r"V2$", "", class_name[len("Fake"):])
    return "fake_" + re.sub(r"(?<!^)(?=[A-Z])", "_", stem).lower()


@lru_cache(maxsize=1)
def _classes() -> dict[str, type]:
    from qiskit_ibm_runtime import fake_provider

    found = {}
    for attr in dir(fake_provider):
        cls = getattr(fake_provider, attr)
        if (
            attr.startswith("Fake")
            and attr not in _EXCLUDED
            and isinstance(cls, type)
            and issubclass(cls, BackendV2)
        ):
            found[_device_name(attr)] = cls
    return found


def fake_backend_names() -> list[str]:
    """Names usable as ``backend=<name>``, sorted."""
    return sorted(_classes())


@lru_cache(maxsize=None)
def fake_backend(name: str) -> BackendV2:
    """The fake device called ``name`` (one instance per process)."""
    try:
        cls = _classes()[name]
    except KeyError:
        raise KeyError(name) from None
    return cls()
