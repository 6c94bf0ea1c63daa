"""A run's ``results.json`` back into the :class:`RunResult` it was written from.

A function job returns its runs as ``results.json`` dicts; the client records them with the same
tags, metrics and summary as a local run, which take a RunResult. ``to_dict()`` of what
:func:`run_result_from_dict` returns is the dict it was given.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from qrt_runner.records.results import EstimatorOutcome, JobRecord, RunResult, SamplerOutcome

__all__ = ["run_result_from_dict"]

_OPTIONAL = ("optimization", "scan", "mitigation", "objective", "estimate", "simulation")


def run_result_from_dict(data: dict[str, Any]) -> RunResult:
    """The RunResult whose ``to_dict()`` is ``data`` (null numbers become NaN, as they were)."""
    result = RunResult(
        status=data["status"],
        primitive=data["primitive"],
        backend=data["backend"],
        mode=data["mode"],
        session_id=data.get("session_id"),
        parameter_names=list(data.get("parameter_names") or []),
        parameter_values=_array(data.get("parameter_values"), data.get("parameter_shape")),
        jobs=[_job(job) for job in data.get("jobs") or []],
        timings=dict(data.get("timings") or {}),
        seeds=dict(data.get("seeds") or {}),
        estimator=_estimator(data) if "evs" in data else None,
        sampler=_sampler(data) if "counts" in data else None,
        error=data.get("error"),
        error_type=data.get("error_type"),
        versions=dict(data.get("versions") or {}),
        transpiled=dict(data.get("transpiled") or {}),
        task=data.get("task", "evaluate"),
        device=data.get("device"),
        session=data.get("session"),
        environment=dict(data.get("environment") or {}),
        inputs=list(data.get("inputs") or []),
    )
    for key in _OPTIONAL:
        setattr(result, key, data.get(key))
    return result


def _array(values: Any, shape: list[int] | None) -> np.ndarray:
    """A numeric array from nested lists (None -> NaN), of parameter shape ``shape`` + (n,)."""
    array = np.array(values if values is not None else [], dtype=float)
    if shape is not None and array.size == 0:
        array = array.reshape((*shape, 0))
    return array


def _job(job: dict[str, Any]) -> JobRecord:
    return JobRecord(
        job["job_id"],
        job["status"],
        [(str(status), float(when)) for status, when in job.get("status_history") or []],
        job["usage_s"],
        (int(job["parameter_sets"][0]), int(job["parameter_sets"][1])),
        job["seed_simulator"],
        job.get("error"),
        job.get("limit_s"),
        job.get("limit"),
        job.get("shots_spent"),
        job.get("estimate"),
    )


def _estimator(data: dict[str, Any]) -> EstimatorOutcome:
    return EstimatorOutcome(
        list(data["observables"]),
        np.array(data["evs"], dtype=float),
        np.array(data["stds"], dtype=float),
        data["shots"],
        data["precision"],
    )


def _sampler(data: dict[str, Any]) -> SamplerOutcome:
    return SamplerOutcome(
        counts=data["counts"],
        shots=data["shots"],
        hellinger_fidelity=data.get("hellinger_fidelity"),
        quasi_dists=data.get("quasi_dists"),
        hellinger_fidelity_mitigated=data.get("hellinger_fidelity_mitigated"),
        readout_calibration=data.get("readout_calibration"),
        nearest_probability_dists=data.get("nearest_probability_dists"),
        hellinger_fidelity_nearest=data.get("hellinger_fidelity_nearest"),
    )
