"""IBM hardware through qiskit-ibm-runtime: the same spec mapped onto its primitives and modes.

Credentials are never read from the config: ``QiskitRuntimeService()`` takes them from the
user's environment or saved account. Any ``BackendV2`` works as the device, so the mapping is
tested offline with a fake device (qiskit-ibm-runtime's local testing mode).
"""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from qiskit.providers import BackendV2

from qrt_runner.adapters.qiskit_ibm_runtime import is_unset
from qrt_runner.config import schema as s
from qrt_runner.errors import ConfigError
from qrt_runner.execution.transpile import IsaCompiler

if TYPE_CHECKING:
    from qrt_runner.config.spec import RunSpec


LOCAL_CHANNEL = "local"
LOCAL_NOTE = (
    "backend=ibm with backend.channel=local runs qiskit-ibm-runtime's local testing mode on {device}: "
    "the whole hardware path (options, Session/Batch, jobs) without an account, but IBM's local mode "
    "ignores every mitigation option (use backend={device} for local mitigation)"
)


def runtime_options(spec: RunSpec) -> dict[str, Any]:
    """The primitive options of ``spec`` under qiskit-ibm-runtime's own leaf names."""
    prim = spec.primitive
    options: dict[str, Any] = {
        "default_shots": prim.default_shots,
        "max_execution_time": math.ceil(prim.max_execution_time),
    }
    groups: tuple[str, ...] = ("twirling", "dynamical_decoupling")  # IBM's Sampler has no resilience options
    if isinstance(prim, s.EstimatorConfig):
        options["default_precision"] = prim.default_precision
        options["resilience_level"] = spec.mitigation.resilience_level
        groups = ("resilience", *groups)
    for group in groups:
        subtree = set_fields(asdict(getattr(spec.mitigation, group)))
        _drop_local_only(group, subtree)
        if subtree:
            options[group] = subtree
    if isinstance(prim, s.EstimatorConfig) and spec.effective_mitigation.needs_layer_noise:
        options.setdefault("resilience", {})["layer_noise_learning"] = _layer_noise_learning(spec)
    return options


def _layer_noise_learning(spec: RunSpec) -> dict[str, Any]:
    """``mitigation.layer_noise``'s learning options as IBM's ``resilience.layer_noise_learning``:
    on hardware the service learns PEC's and PEA's layer noise, with these options."""
    learning = spec.effective_mitigation.layer_noise
    return {
        "max_layers_to_learn": learning.max_layers_to_learn,
        "shots_per_randomization": learning.shots_per_randomization,
        "num_randomizations": learning.num_randomizations,
        "layer_pair_depths": list(learning.layer_pair_depths),
    }


def _drop_local_only(group: str, subtree: dict) -> None:
    """Remove qrt_runner's own options from an option group, which IBM's models refuse (the spec
    has checked that what they ask for is what the service does)."""
    if group == "twirling":
        subtree.pop("dressing_noise", None)
    if group != "resilience":
        return
    subtree.pop("nearest_probability", None)
    zne = subtree.get("zne", {})
    for key in ("extrapolator_choice", "extrapolate_per_term", "shot_allocation", "randomization_allocation"):
        zne.pop(key, None)
    if "zne" in subtree and not zne:
        del subtree["zne"]


def set_fields(tree: dict) -> dict:
    """The fields of an options tree that are set: null (or IBM's ``Unset``) means the level or the
    service decides, and is left out, as are subtrees left empty."""
    out = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            value = set_fields(value)
            if value:
                out[key] = value
        elif value is not None and not is_unset(value):
            out[key] = value
    return out


def connect(spec: RunSpec) -> BackendV2:
    """The IBM device named by ``backend.device`` (least busy when null), from the user's account;
    with ``backend.channel=local``, the fake device of that name, run by qiskit-ibm-runtime's
    local testing mode (the hardware path rehearsed offline)."""
    backend = spec.backend
    assert isinstance(backend, s.IbmBackendConfig)  # connect() is for backend=ibm
    if backend.channel == LOCAL_CHANNEL:
        from qrt_runner.execution.fake_backends import fake_backend

        return fake_backend(backend.device)
    from qiskit_ibm_runtime import QiskitRuntimeService

    try:
        service = QiskitRuntimeService(channel=backend.channel, instance=backend.instance)
        if backend.device:
            return service.backend(backend.device)
        return service.least_busy(operational=True, simulator=False)
    except Exception as exc:  # no account, bad token, unknown device, no network
        detail = " ".join(str(exc).split())[:200]
        raise ConfigError(
            "backend.device" if backend.device else "backend",
            backend.device or "ibm",
            f"cannot reach it on IBM Quantum ({type(exc).__name__}: {detail})",
            "save an account with QiskitRuntimeService.save_account(...) or set QISKIT_IBM_TOKEN, and check the device name",
        ) from None


class IbmJob:
    """A runtime job seen through the fields a :class:`~qrt_runner.records.results.JobRecord` needs."""

    def __init__(self, job):
        self._job = job
        self.status_history: list[tuple[str, float]] = [("QUEUED", time.time())]
        self.usage_s = 0.0
        self.seed_simulator = 0
        self.error: str | None = None

    def job_id(self) -> str:
        return self._job.job_id()

    def result(self):
        try:
            result = self._job.result()
        except Exception as exc:
            self.error = f"{type(exc).__name__}: {exc}"
            self.status_history.append(("CANCELLED" if "Timeout" in type(exc).__name__ else "ERROR", time.time()))
            raise
        self.status_history.append(("DONE", time.time()))
        metrics = getattr(self._job, "metrics", None)
        if callable(metrics):
            try:
                self.usage_s = float(metrics().get("usage", {}).get("seconds", 0.0))
            except Exception:  # metrics need the service; local mode has none
                self.usage_s = 0.0
        return result


class IbmPrimitive:
    """Transpiles each PUB for the device and runs it with qiskit-ibm-runtime's V2 primitive.

    Args:
        spec: the run (its primitive and options).
        device: the IBM device (or, in local testing mode, a fake device).
        mode: the device, or a qiskit-ibm-runtime ``Session`` or ``Batch`` on it.
        sampler_shots: a Sampler with these default shots instead of the spec's primitive (the
            final sampling of a QAOA run).
        jobs: a list to record the jobs in (shared by the primitives of one run).
    """

    def __init__(
        self, spec: RunSpec, device: BackendV2, mode, sampler_shots: int | None = None, jobs: list | None = None
    ):
        from qiskit_ibm_runtime import EstimatorV2, SamplerV2

        self.is_estimator = spec.is_estimator and sampler_shots is None
        self.compiler = IsaCompiler(
            device, spec.transpile.optimization_level, spec.transpile.seed_transpiler, spec.transpile.layout
        )
        self.jobs: list[IbmJob] = jobs if jobs is not None else []
        options = (
            runtime_options(spec)
            if sampler_shots is None
            else {"default_shots": sampler_shots, "max_execution_time": math.ceil(spec.primitive.max_execution_time)}
        )
        with warnings.catch_warnings():  # qiskit-ibm-runtime 0.50+ deprecates EstimatorV2 for its client-side one
            warnings.simplefilter("ignore", DeprecationWarning)
            self.primitive = (EstimatorV2 if self.is_estimator else SamplerV2)(mode=mode, options=options)

    def run(self, pubs: list[tuple]) -> IbmJob:
        mapped = []
        for pub in pubs:
            circuit, rest = pub[0], list(pub[1:])
            compiled = self.compiler.compile(circuit)
            isa = compiled.device_circuit
            if self.is_estimator and compiled.transpiled:  # an ISA circuit's observables name its own qubits
                rest[0] = [observable.apply_layout(isa.layout) for observable in rest[0]]
            mapped.append((isa, *rest))
        with warnings.catch_warnings():  # local testing mode says so per job; qrt-run says it once
            warnings.filterwarnings("ignore", message=".*no effect in local testing mode")
            job = IbmJob(self.primitive.run(mapped))
        self.jobs.append(job)
        return job


def open_mode(mode: str, device: BackendV2, max_time: float):
    """A qiskit-ibm-runtime ``Session`` or ``Batch``, or the device itself for job mode."""
    from qiskit_ibm_runtime import Batch, Session

    if mode == "session":
        return Session(backend=device, max_time=math.ceil(max_time))
    if mode == "batch":
        return Batch(backend=device, max_time=math.ceil(max_time))
    return device
