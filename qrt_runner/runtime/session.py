"""``Session`` and ``Batch`` with qiskit-ibm-runtime's signatures, run locally.

``with Session(backend=FakeManilaV2(), max_time="2h") as session: estimator = EstimatorV2(
mode=session)``: the primitives' jobs run one after another under the session's ``max_time``;
leaving the block lets running jobs finish and refuses new ones (IBM's ``close``).
"""

from __future__ import annotations

import re
from typing import Any

from qrt_runner.execution.backend import LocalBackend, ideal_target_backend
from qrt_runner.execution.fake_backends import fake_backend
from qrt_runner.execution.modes import ExecutionMode

__all__ = ["Batch", "Session", "device_of", "local_backend"]

_DEFAULT_MAX_TIME = 28800.0
_UNITS = {"h": 3600, "m": 60, "s": 1}


def local_backend(backend: Any, seed_simulator: int | None = None) -> LocalBackend:
    """The local backend a mode stands for: a fake device (instance or ``fake_<name>``), an
    ``AerSimulator`` (the ideal simulator), or a :class:`LocalBackend` itself."""
    if isinstance(backend, LocalBackend):
        return backend
    return LocalBackend.create(_local_name(backend), seed_simulator=seed_simulator if seed_simulator is not None else 0)


def device_of(backend: Any) -> Any:
    """The backend object a mode stands for, as IBM's ``primitive.backend()`` returns it: the fake
    device or ``AerSimulator`` given; for a name or a :class:`LocalBackend`, the fake device (the
    process's one instance) or an ``AerSimulator``."""
    if isinstance(backend, LocalBackend):
        return backend.device if backend.device is not None else ideal_target_backend(backend.method)
    if isinstance(backend, str):
        name = _local_name(backend)
        return ideal_target_backend("automatic") if name == "aer" else fake_backend(name)
    return backend


def _local_name(backend: Any) -> str:
    name = backend if isinstance(backend, str) else getattr(backend, "name", None)
    if name is None or callable(name):
        raise TypeError(
            f"mode: give a fake device (e.g. FakeManilaV2()), an AerSimulator, a Session or a Batch, "
            f"not {type(backend).__name__}"
        )
    if name.startswith("aer_simulator") or name == "aer":
        return "aer"
    if not name.startswith("fake_"):
        raise TypeError(
            f"mode: {name} is not a device qrt_runner simulates; use a fake device (qiskit_ibm_runtime."
            "fake_provider) or qiskit_ibm_runtime's own primitives for hardware"
        )
    return name


def _seconds(max_time: Any) -> float:
    """IBM's ``max_time``: seconds, or a string such as ``"2h 30m"``."""
    if max_time is None:
        return _DEFAULT_MAX_TIME
    if isinstance(max_time, (int, float)):
        return float(max_time)
    parts = re.findall(r"(\d+(?:\.\d+)?)\s*([hms])", str(max_time).lower())
    if not parts:
        raise ValueError(f"max_time={max_time!r}: give seconds or a duration such as '2h 30m'")
    return float(sum(float(number) * _UNITS[unit] for number, unit in parts))


class Session:
    """Jobs that run back to back under ``max_time`` (seconds, or ``"1h"``), as IBM's ``Session``.

    Args:
        backend: a fake device, ``"fake_<name>"``, an ``AerSimulator`` or a ``LocalBackend``.
        max_time: the session's time limit.
    """

    _kind = "session"

    def __init__(self, backend: Any = None, max_time: Any = None, *, create_new: bool = True) -> None:
        if backend is None:
            raise TypeError(f"{type(self).__name__}: give backend=... (a fake device, e.g. FakeManilaV2())")
        self._device = backend
        self._max_time = _seconds(max_time)
        self._local: LocalBackend | None = None
        self._mode: ExecutionMode | None = None
        self._device_object: Any = None

    @property
    def _backend(self) -> Any:
        """The backend object given (resolved from a name), where IBM's ``Session`` keeps it."""
        if self._device_object is None:
            self._device_object = device_of(self._device)
        return self._device_object

    def backend(self) -> str | None:
        """The backend's name (IBM's ``Session.backend()``)."""
        return getattr(self._backend, "name", None)

    def _open(self, seed_simulator: int | None) -> tuple[LocalBackend, ExecutionMode]:
        """The backend and execution mode, created with the first primitive that uses them."""
        if self._mode is None:
            self._local = local_backend(self._device, seed_simulator)
            self._mode = ExecutionMode(self._kind, self._local.executor, self._max_time)
        assert self._local is not None  # created together with the mode
        return self._local, self._mode

    @property
    def session_id(self) -> str | None:
        return self._mode.session_id if self._mode is not None else None

    def close(self) -> None:
        """Let running jobs finish; refuse new ones."""
        if self._mode is not None:
            self._mode.close()

    def cancel(self) -> None:
        """Stop now: queued jobs are cancelled, a running one is stopped."""
        if self._mode is not None:
            self._mode.cancel()

    def status(self) -> str:
        if self._mode is None:
            return "Pending"
        if self._mode.expired or self._mode.closed:
            return "Closed"
        return "In progress, accepting new jobs"

    def details(self) -> dict[str, Any]:
        mode = self._mode
        remaining = mode.remaining() if mode and mode.started_at else None  # a session always has a max_time
        return {
            "id": self.session_id,
            "backend_name": getattr(self._local, "name", None),
            "mode": self._kind,
            "max_time": self._max_time,
            "state": self.status(),
            "jobs": len(mode.jobs) if mode else 0,
            "elapsed_s": (self._max_time - remaining) if remaining is not None else 0.0,
        }

    def usage(self) -> float:
        """Seconds the session's jobs ran."""
        return float(sum(job.usage_s for job in self._mode.jobs)) if self._mode else 0.0

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class Batch(Session):
    """Independent jobs submitted together under one ``max_time``, as IBM's ``Batch``."""

    _kind = "batch"
