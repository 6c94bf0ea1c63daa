"""``EstimatorV2`` and ``SamplerV2`` with qiskit-ibm-runtime's signatures, mitigation applied locally.

A script written for IBM's primitives runs with its import line changed: ``mode=`` a fake device,
an ``AerSimulator``, a :class:`~qrt_runner.runtime.session.Session` or ``Batch``; ``options=`` a
dict or an options object; ``primitive.options.<IBM path> = value``; jobs with ``job_id()``,
``status()``, ``result()``, ``cancel()``, ``usage()``, ``metrics()`` and ``session_id``. Unlike
IBM's local testing mode, the resilience, twirling and dynamical-decoupling options are applied.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from typing import Any

from qiskit.primitives import BaseEstimatorV2, BasePrimitiveJob, BaseSamplerV2

from qrt_runner.errors import ConfigError
from qrt_runner.execution.modes import ExecutionMode, LocalJob
from qrt_runner.runtime.layer_models import refuse_unmodelled_runs
from qrt_runner.runtime.options import EstimatorOptions, SamplerOptions, coerce_options
from qrt_runner.runtime.session import Session, device_of, local_backend

__all__ = ["EstimatorV2", "RuntimeJob", "SamplerV2"]

_DEFAULT_MAX_EXECUTION_TIME = 10800.0
_POLL_S = 0.02  # how often a wait with a timeout looks at the job's status


class RuntimeJob(BasePrimitiveJob):
    """A job seen as qiskit-ibm-runtime's ``RuntimeJobV2``: ``status()`` is a string.

    ``finish`` (the client-side primitives') turns the local result into IBM's, once.
    """

    def __init__(
        self,
        job: LocalJob,
        session_id: str | None,
        tags: list | None,
        finish: Callable[[Any], Any] | None = None,
        backend: Any = None,
        primitive_id: str = "",
    ) -> None:
        super().__init__(job.job_id())
        self._job, self.session_id, self.tags = job, session_id, list(tags or [])
        self.creation_date = time.time()
        self._finish, self._finished, self._backend, self.primitive_id = finish, None, backend, primitive_id

    def result(self, timeout: float | None = None) -> Any:
        """The job's result, waiting at most ``timeout`` seconds for it (IBM's ``RuntimeJobTimeoutError``
        after that; the job goes on)."""
        if timeout is not None:
            self.wait_for_final_state(timeout)
        if self._finish is None:
            return self._job.result()
        if self._finished is None:
            self._finished = self._finish(self._job.result())
        return self._finished

    def backend(self) -> Any:
        """The backend the job ran on (IBM's ``job.backend()``)."""
        return self._backend

    def wait_for_final_state(self, timeout: float | None = None) -> None:
        """Wait until the job is done, failed or cancelled (its error, if any, stays for ``result()``),
        at most ``timeout`` seconds: IBM's ``RuntimeJobTimeoutError`` after that (the job goes on)."""
        if timeout is not None:
            deadline = time.monotonic() + timeout
            while not self._job.in_final_state():
                if time.monotonic() >= deadline:
                    from qiskit_ibm_runtime.exceptions import RuntimeJobTimeoutError

                    raise RuntimeJobTimeoutError(f"Timed out waiting for job to complete after {timeout} secs.")
                time.sleep(min(_POLL_S, max(0.0, deadline - time.monotonic())))
        try:
            self._job.result()
        except Exception:  # noqa: BLE001 - the error is the job's, raised again by result()
            pass

    def error_message(self) -> str | None:
        """The error the job failed with, or None (IBM's ``job.error_message()``)."""
        if self.status() != "ERROR":
            return None
        try:
            self._job.result()
        except Exception as exc:  # noqa: BLE001 - reported, as IBM's does
            return f"{type(exc).__name__}: {exc}"
        return None

    def status(self) -> str:
        return self._job.status_history[-1][0]

    def done(self) -> bool:
        return self._job.done()

    def running(self) -> bool:
        return self._job.running()

    def cancelled(self) -> bool:
        return self._job.cancelled()

    def in_final_state(self) -> bool:
        return self._job.in_final_state()

    def cancel(self) -> bool:
        return self._job.cancel()

    def usage(self) -> float:
        """Seconds the job ran (IBM: quantum seconds billed)."""
        return float(self._job.usage_s)

    def metrics(self) -> dict[str, Any]:
        """IBM's job metrics: usage seconds and the timestamps of the job's states."""
        history = {status: stamp for status, stamp in self._job.status_history}
        return {
            "usage": {"seconds": self.usage(), "quantum_seconds": self.usage()},
            "timestamps": {
                "created": history.get("QUEUED"),
                "running": history.get("RUNNING"),
                "finished": history.get("DONE") or history.get("CANCELLED") or history.get("ERROR"),
            },
            "status_history": list(self._job.status_history),
            "tags": self.tags,
        }


class _RuntimePrimitive:
    """What both primitives share: the mode, the options, and the local primitive per run."""

    _options_kind: type = EstimatorOptions

    def __init__(self, mode: Any = None, options: Any = None) -> None:
        if mode is None:
            raise TypeError(
                f"{type(self).__name__}: give mode=... (a fake device such as FakeManilaV2(), a Session or a Batch)"
            )
        self._mode = mode
        self._backends: dict = {}
        self._device: Any = None
        self._options = coerce_options(options, self._options_kind)

    @property
    def options(self) -> Any:
        """The primitive's own options (a copy of those given); set their leaves, as with IBM's."""
        return self._options

    @property
    def mode(self) -> Session | None:
        """The Session or Batch the primitive runs in; None in job mode (IBM's ``mode``)."""
        return self._mode if isinstance(self._mode, Session) else None

    def backend(self) -> Any:
        """The backend the jobs run on: the fake device or ``AerSimulator`` given (or the session's)."""
        if isinstance(self._mode, Session):
            return self._mode._backend
        if self._device is None:
            self._device = device_of(self._mode)
        return self._device

    @property
    def _backend(self) -> Any:
        """``backend()``, where libraries written for IBM's and Qiskit's primitives read it."""
        return self.backend()

    def has_device(self) -> bool:
        """Whether the jobs run with a fake device's noise (False on the ideal simulator)."""
        return self._target()[0].device is not None

    def _target(self):
        seed = self.options.simulator.seed_simulator
        if isinstance(self._mode, Session):
            return self._mode._open(seed)
        if seed not in self._backends:
            self._backends[seed] = local_backend(self._mode, seed)
        backend = self._backends[seed]
        return backend, ExecutionMode("job", backend.executor)

    def _mitigation(self, primitive: str, backend) -> Any:
        from qrt_runner.mitigation.options import finalize

        logging.getLogger("qrt_runner").setLevel(self.options.environment.log_level or "WARNING")
        try:
            mitigation = finalize(self.options.mitigation(), primitive=primitive)
        except ConfigError as exc:  # the CLI's message, with options.<path> for the key
            raise ValueError(f"options.{str(exc).removeprefix('mitigation.')}") from None
        if mitigation.dynamical_decoupling.enable and backend.device is None:
            raise ValueError(
                "options.dynamical_decoupling.enable=True: needs a device's instruction durations; use a fake device as the mode"
            )
        if mitigation.needs_layer_noise and mitigation.resilience.layer_noise_model is None and backend.device is None:
            raise ValueError("options.resilience: PEC and PEA need a layer noise model; use a fake device as the mode")
        return mitigation

    def _max_execution_time(self) -> float:
        return float(self.options.max_execution_time or _DEFAULT_MAX_EXECUTION_TIME)


class EstimatorV2(_RuntimePrimitive, BaseEstimatorV2):
    """qiskit-ibm-runtime's ``EstimatorV2``, run locally with its mitigation applied.

    Args:
        mode: a fake device (``FakeManilaV2()``), an ``AerSimulator``, a ``Session`` or a ``Batch``.
        options: a dict, an :class:`~qrt_runner.runtime.options.EstimatorOptions` or IBM's options.
    """

    _options_kind = EstimatorOptions

    @property
    def default_precision(self) -> float:
        """``options.default_precision`` (read by qiskit-algorithms' ``run_estimator_job``, as from Qiskit's
        estimators: LinComb gradients and variational time evolution)."""
        return self.options.default_precision

    def run(self, pubs: Iterable[Any], *, precision: float | None = None) -> RuntimeJob:
        """Run the PUBs. With a given ``resilience.layer_noise_model`` (layers it does not list are
        noiseless, as IBM documents), a PUB none of whose layers as run has a model is refused in
        ``result()`` (ValueError): PEC or PEA would have mitigated nothing."""
        given = self.options.resilience.layer_noise_model is not None
        return self.submit(pubs, precision=precision, finish=refuse_unmodelled_runs if given else None)

    def submit(
        self,
        pubs: Iterable[Any],
        *,
        precision: float | None = None,
        finish: Callable[[Any], Any] | None = None,
        primitive_id: str = "estimator",
    ) -> RuntimeJob:
        """``run``, with ``finish`` applied to the result (see :class:`RuntimeJob`)."""
        from qrt_runner.primitives.estimator import Estimator

        backend, mode = self._target()
        job = Estimator(backend, mode, self.local_options(backend)).run(pubs, precision=precision)
        tags = self.options.environment.job_tags
        return RuntimeJob(job, mode.session_id, tags, finish, self.backend(), primitive_id)

    def local_options(self, backend) -> Any:
        """The local Estimator's options these options stand for (ValueError for a bad combination)."""
        from qrt_runner.primitives.estimator import EstimatorOptions as LocalOptions

        options = self.options
        return LocalOptions(
            options.default_precision,
            options.default_shots,
            self._max_execution_time(),
            self._mitigation("estimator", backend),
        )


class SamplerV2(_RuntimePrimitive, BaseSamplerV2):
    """qiskit-ibm-runtime's ``SamplerV2``, run locally with twirling and decoupling applied.

    Args:
        mode: a fake device (``FakeManilaV2()``), an ``AerSimulator``, a ``Session`` or a ``Batch``.
        options: a dict, a :class:`~qrt_runner.runtime.options.SamplerOptions` or IBM's options.
    """

    _options_kind = SamplerOptions

    @property
    def default_shots(self) -> int:
        """``options.default_shots`` (read by qiskit-algorithms' MLAE, as from Qiskit's samplers)."""
        return self.options.default_shots

    def run(self, pubs: Iterable[Any], *, shots: int | None = None) -> RuntimeJob:
        return self.submit(pubs, shots=shots)

    def submit(
        self,
        pubs: Iterable[Any],
        *,
        shots: int | None = None,
        finish: Callable[[Any], Any] | None = None,
        primitive_id: str = "sampler",
    ) -> RuntimeJob:
        """``run``, with ``finish`` applied to the result (see :class:`RuntimeJob`)."""
        from qrt_runner.primitives.sampler import Sampler

        backend, mode = self._target()
        job = Sampler(backend, mode, self.local_options(backend)).run(pubs, shots=shots)
        tags = self.options.environment.job_tags
        return RuntimeJob(job, mode.session_id, tags, finish, self.backend(), primitive_id)

    def local_options(self, backend) -> Any:
        """The local Sampler's options these options stand for (ValueError for a bad combination)."""
        from qrt_runner.primitives.sampler import SamplerOptions as LocalOptions

        mitigation = self._mitigation("sampler", backend)
        return LocalOptions(
            self.options.default_shots, self._max_execution_time(), mitigation if mitigation.active else None
        )
