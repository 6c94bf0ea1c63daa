"""The outcome of one run, and its machine-readable form (``results.json``)."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

_LOG = logging.getLogger(__name__)


@dataclass
class JobRecord:
    """One primitive job as the execution mode saw it.

    ``status_history`` holds ``(status, unix_time)`` pairs: QUEUED, RUNNING, then DONE,
    CANCELLED or ERROR. ``usage_s`` is the time the job spent running.
    """

    job_id: str
    status: str
    status_history: list[tuple[str, float]]
    usage_s: float
    parameter_sets: tuple[int, int]
    seed_simulator: int
    error: str | None = None
    limit_s: float | None = None  # the time limit that applied, and which bound it was
    limit: str | None = None
    shots_spent: int | None = None  # shots the simulator sampled (None on IBM)
    estimate: dict | None = None  # its cost estimated before it ran (qrt_runner.execution.cost), next to usage_s

    @classmethod
    def from_job(cls, job: Any, parameter_sets: tuple[int, int]) -> JobRecord:
        """The record of a finished (or failed) job of an execution mode."""
        return cls(
            job.job_id(),
            job.status_history[-1][0],
            job.status_history,
            job.usage_s,
            parameter_sets,
            job.seed_simulator,
            job.error,
            getattr(job, "limit_s", None),
            getattr(job, "limit_reason", None),
            getattr(job, "shots_spent", None),
            getattr(job, "estimate", None),
        )


@dataclass
class EstimatorOutcome:
    """Expectation values of a PUB: ``evs``/``stds`` have shape ``param_shape + (n_obs,)``.

    Entries of jobs that did not finish are NaN. ``shots`` is per measurement basis (0: exact).
    """

    observable_labels: list[str]
    evs: np.ndarray
    stds: np.ndarray
    shots: int
    precision: float


@dataclass
class SamplerOutcome:
    """Counts of a PUB, one dict per parameter set (flattened), and ideal-distribution fidelities.

    ``counts`` entries of jobs that did not finish are None. ``hellinger_fidelity`` is None where
    the ideal distribution was not computed. With readout mitigation: ``quasi_dists`` (raw
    quasi-probabilities; ``hellinger_fidelity_mitigated`` of them with negatives clipped) and,
    unless switched off, ``nearest_probability_dists`` (their nearest probability distributions)
    with ``hellinger_fidelity_nearest``.
    """

    counts: list[dict[str, int] | None]
    shots: int
    hellinger_fidelity: list[float | None] | None
    quasi_dists: list[dict[str, float] | None] | None = None
    hellinger_fidelity_mitigated: list[float | None] | None = None
    readout_calibration: list[list[float]] | None = None
    nearest_probability_dists: list[dict[str, float] | None] | None = None
    hellinger_fidelity_nearest: list[float | None] | None = None


@dataclass
class RunResult:
    """Everything a run produced; written to ``results.json`` and logged to MLflow."""

    status: str
    primitive: str
    backend: str
    mode: str
    session_id: str | None
    parameter_names: list[str]
    parameter_values: np.ndarray
    jobs: list[JobRecord] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    seeds: dict[str, int] = field(default_factory=dict)
    estimator: EstimatorOutcome | None = None
    sampler: SamplerOutcome | None = None
    error: str | None = None
    error_type: str | None = None
    versions: dict[str, str] = field(default_factory=dict)
    transpiled: dict[str, Any] = field(default_factory=dict)
    task: str = "evaluate"
    optimization: dict[str, Any] | None = None
    scan: dict[str, Any] | None = None
    mitigation: dict[str, Any] | None = None
    objective: dict[str, Any] | None = None
    device: dict[str, Any] | None = None
    session: dict[str, Any] | None = None
    environment: dict[str, Any] = field(default_factory=dict)
    inputs: list[dict[str, str]] = field(default_factory=list)
    estimate: dict[str, Any] | None = None  # backend=ibm: the run's cost estimated before it started
    simulation: dict[str, Any] | None = None  # local backends: the Aer method chosen, and why

    @property
    def param_shape(self) -> tuple[int, ...]:
        return tuple(self.parameter_values.shape[:-1])

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict; NaN (unfinished jobs) becomes null."""
        out: dict[str, Any] = {
            "status": self.status,
            "error": self.error,
            "error_type": self.error_type,
            "primitive": self.primitive,
            "backend": self.backend,
            "mode": self.mode,
            "session_id": self.session_id,
            "session": self.session,
            "job_ids": [job.job_id for job in self.jobs],
            "jobs": [
                {
                    "job_id": job.job_id,
                    "status": job.status,
                    "status_history": [list(item) for item in job.status_history],
                    "usage_s": job.usage_s,
                    "parameter_sets": list(job.parameter_sets),
                    "seed_simulator": job.seed_simulator,
                    "error": job.error,
                    "limit_s": job.limit_s,
                    "limit": job.limit,
                    "shots_spent": job.shots_spent,
                    "estimate": job.estimate,
                }
                for job in self.jobs
            ],
            "timings": self.timings,
            "seeds": self.seeds,
            "versions": self.versions,
            "environment": self.environment,
            "device": self.device,
            "inputs": self.inputs,
            "transpiled": self.transpiled,
            "parameter_names": self.parameter_names,
            "parameter_shape": list(self.param_shape),
            "parameter_values": _nan_to_none(self.parameter_values),
        }
        out["task"] = self.task
        if self.optimization is not None:
            out["optimization"] = self.optimization
        if self.scan is not None:
            out["scan"] = self.scan
        if self.mitigation is not None:
            out["mitigation"] = self.mitigation
        if self.objective is not None:
            out["objective"] = self.objective
        if self.estimate is not None:
            out["estimate"] = self.estimate
        if self.simulation is not None:
            out["simulation"] = self.simulation
        if self.estimator is not None:
            est = self.estimator
            out.update(
                observables=est.observable_labels,
                evs=_nan_to_none(est.evs),
                stds=_nan_to_none(est.stds),
                shots=est.shots,
                precision=est.precision,
            )
        if self.sampler is not None:
            out.update(
                counts=self.sampler.counts,
                shots=self.sampler.shots,
                hellinger_fidelity=self.sampler.hellinger_fidelity,
            )
            if self.sampler.quasi_dists is not None:
                out.update(
                    quasi_dists=self.sampler.quasi_dists,
                    hellinger_fidelity_mitigated=self.sampler.hellinger_fidelity_mitigated,
                    readout_calibration=self.sampler.readout_calibration,
                )
            if self.sampler.nearest_probability_dists is not None:
                out.update(
                    nearest_probability_dists=self.sampler.nearest_probability_dists,
                    hellinger_fidelity_nearest=self.sampler.hellinger_fidelity_nearest,
                )
        return out

    def write_json(self, path: Path) -> Path:
        """Write ``results.json`` atomically (no half-written file on interruption)."""
        path = Path(path)
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(_finite(self.to_dict()), indent=2, allow_nan=False))
        tmp.replace(path)
        return path

    def write_layer_noise_model(self, path: Path) -> Path | None:
        """Write the layer noise model PEC or PEA used (every job's layers, merged by
        :func:`merged_layer_noise_model`), in the format ``mitigation.resilience.layer_noise_model``
        reads back; None when there was none, or when the jobs' models differ (logged: the run's
        record is kept, and ``qrt-run replay`` refuses such a learned run in one line)."""
        jobs = (self.mitigation or {}).get("jobs") or []
        try:
            model = merged_layer_noise_model([(job or {}).get("layer_noise_model") for job in jobs])
        except ValueError as exc:
            _LOG.warning("no layer_noise_model.json: %s", exc)
            return None
        if model is None:
            return None
        Path(path).write_text(json.dumps(_finite(model), indent=2, allow_nan=False))
        return Path(path)


def merged_layer_noise_model(models: list[dict | None]) -> dict | None:
    """The layer noise models of a run's jobs as one: every job's layers, each once (the first
    job's model as it is when the others add no layer). None when no job has one.

    Raises:
        ValueError: when the jobs' models come from different sources or give one layer
            different models.
    """
    found = [model for model in models if model]
    if not found:
        return None
    first = found[0]
    layers: dict[str, dict] = {}
    for model in found:
        if model.get("source") != first.get("source"):
            raise ValueError(f"the jobs' layer noise models come from {first.get('source')} and {model.get('source')}")
        for layer in model.get("layers") or []:
            known = layers.setdefault(json.dumps([layer.get("gates"), layer.get("dressing") or []]), layer)
            if (known.get("qubits"), known.get("generators")) != (layer.get("qubits"), layer.get("generators")):
                raise ValueError(f"the jobs' layer noise models differ on layer {layer.get('gates')}")
    merged = list(layers.values())
    if len(merged) == len(first.get("layers") or []):
        return first
    per_job = ("num_layers", "num_unmodelled_layers", "total_rate")  # one job's figures: not the merged model's
    out = {key: value for key, value in first.items() if key not in per_job}
    out.update(layers=merged, num_unique_layers=len(merged), num_jobs=len(found))
    if "learning" in first:
        costs = [layer["learning_cost"] for layer in merged if "learning_cost" in layer]
        out["learning"] = {key: value for key, value in first["learning"].items() if key != "layers_not_learned"}
        out["learning"].update(
            layers_learned=len(costs),
            circuits=sum(cost["circuits"] for cost in costs),
            shots=sum(cost["shots"] for cost in costs),
            wall_s=round(sum(cost["wall_s"] for cost in costs), 3),
        )
    return out


def _finite(value: Any) -> Any:
    """Replace non-finite floats anywhere in a JSON-ready structure by None (valid JSON)."""
    if isinstance(value, float):
        return value if np.isfinite(value) else None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(item) for item in value]
    return value


def _nan_to_none(array: np.ndarray) -> Any:
    values = np.asarray(array, dtype=float)
    # numpy's stubs take no None (an object scalar) as where()'s value
    return np.where(np.isnan(values), None, values).tolist()  # type: ignore[call-overload]
