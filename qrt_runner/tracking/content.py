"""What a run records, independent of where it is recorded: params, tags and metrics.

* **params**: the resolved config flattened to dotted keys (``circuit.num_qubits``).
* **tags**: package versions (``version.qiskit``), backend, primitive, mode, session and job ids,
  seeds, the observable labels (``observable.<k>``), the git commit of the run's directory.
* **metrics** ``(key, value, step)``: per flattened parameter-set index (the step) the
  expectation values ``ev/<k>`` and standard errors ``std/<k>`` of observable ``k`` (Estimator),
  or shots, distinct outcomes and Hellinger fidelities (Sampler); optimisation results,
  mitigation costs, timings. Keys never contain labels or other run-specific text, so every run
  of a sweep has the same keys and MLflow's compare view can chart them side by side.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import numbers
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qrt_runner.records.provenance import git_commit

if TYPE_CHECKING:
    from qrt_runner.records.results import RunResult

__all__ = [
    "CONFIG_HASH_TAG",
    "config_hash",
    "flatten_config",
    "git_commit",
    "result_metrics",
    "result_tags",
    "run_name",
]

_MAX_RUN_NAME = 200
_OPTIMIZATION_METRICS = (
    "best_energy",
    "final_energy",
    "exact_energy",
    "error_to_exact",
    "best_cut",
    "expected_cut",
    "optimal_cut",
    "approximation_ratio",
    "iterations",
    "evaluations",
)

Metric = tuple[str, float, int]


def flatten_config(config: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """Flatten a nested config into dotted keys with string values.

    Nested mappings become dotted keys; lists, tuples and every other value are stringified
    as a whole (``str(value)``), so ``None`` becomes ``"None"``. An empty mapping is kept as the
    value ``"{}"`` so that it stays visible.

    Example:
        >>> flatten_config({"a": {"b": 1, "c": [1, 2]}, "d": None})
        {'a.b': '1', 'a.c': '[1, 2]', 'd': 'None'}
    """
    flat: dict[str, str] = {}
    for key, value in config.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, Mapping):
            if value:
                flat.update(flatten_config(value, name))
            else:
                flat[name] = "{}"
        else:
            flat[name] = str(value)
    return flat


def config_hash(config: Mapping[str, Any]) -> str:
    """A hash of what a run computes: the resolved config without ``tracking`` and ``sweep``.

    Two runs with the same hash run the same work (same seeds included), wherever they are
    recorded; a sweep that is run again skips the points whose hash already finished.
    """
    work = {key: value for key, value in config.items() if key not in ("tracking", "sweep")}
    text = json.dumps(work, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


#: The tag that carries a run's :func:`config_hash` (what resume looks runs up by).
CONFIG_HASH_TAG = "config_hash"


def finished_query(config_hash: str) -> str:
    """The store filter for the FINISHED runs of the config whose :func:`config_hash` is given."""
    return f"tags.{CONFIG_HASH_TAG} = '{config_hash}' and attributes.status = 'FINISHED'"


def run_name(overrides: list[str], swept_keys: list[str] | None = None) -> str | None:
    """A run's display name from its overrides: the swept ones in a sweep, else all of them.

    ``hydra.*`` overrides are left out; None when nothing is left (the tracker then names it).
    """
    keep = [o for o in overrides if not o.lstrip("+~").startswith("hydra.")]
    if swept_keys:
        swept = [o for o in keep if o.lstrip("+~").partition("=")[0] in swept_keys]
        keep = swept or keep
    name = " ".join(keep)
    if not name:
        return None
    return name if len(name) <= _MAX_RUN_NAME else name[: _MAX_RUN_NAME - 3] + "..."


def _work_tree_commit(run_dir: Path) -> tuple[str | None, bool]:
    """The commit of the run directory's work tree, else the working directory's (a run directory
    below the working directory has the working directory's answer, asked once per process)."""
    cwd = Path.cwd().resolve()
    if run_dir.resolve().is_relative_to(cwd):
        return _cwd_commit(cwd)
    commit, dirty = git_commit(run_dir)
    return (commit, dirty) if commit is not None else _cwd_commit(cwd)


@functools.lru_cache(maxsize=4)
def _cwd_commit(cwd: Path) -> tuple[str | None, bool]:
    return git_commit(cwd)


def result_tags(result: RunResult, run_dir: Path) -> dict[str, str]:
    """The tags of a finished run."""
    tags = {f"version.{package}": str(version) for package, version in result.versions.items()}
    tags.update(
        backend=str(result.backend),
        primitive=str(result.primitive),
        mode=str(result.mode),
        status=str(result.status),
        job_ids=",".join(job.job_id for job in result.jobs),
    )
    if result.session_id is not None:
        tags["session_id"] = str(result.session_id)
    tags.update({f"seed.{name}": str(seed) for name, seed in result.seeds.items()})
    if result.estimator is not None:
        tags.update({f"observable.{k}": str(label) for k, label in enumerate(result.estimator.observable_labels)})
    environment = result.environment or {}
    for key in ("python", "platform"):
        if environment.get(key):
            tags[key] = str(environment[key])
    if environment.get("qrt_runner_commit"):  # the source of these numbers: qrt_runner's own commit
        tags["qrt_runner.commit"] = environment["qrt_runner_commit"]
        tags["qrt_runner.dirty"] = str(bool(environment.get("qrt_runner_dirty"))).lower()
        tags["mlflow.source.git.commit"] = environment["qrt_runner_commit"]
    for key, value in (result.device or {}).items():
        tags[f"device.{key}"] = str(value)
    for key in ("method", "noise", "reason"):  # the simulation method chosen, and why
        if result.simulation and result.simulation.get(key) is not None:
            tags[f"simulation.{key}"] = str(result.simulation[key])
    for item in result.inputs:
        tags[f"input.{item['key']}.sha256"] = item["sha256"]
    commit, dirty = _work_tree_commit(Path(run_dir))
    if commit is not None:  # the working directory's repository: the user's project
        tags["git_commit"] = commit
        tags["git_dirty"] = str(dirty).lower()
    return tags


def result_metrics(result: RunResult) -> list[Metric]:
    """Every metric of a finished run as ``(key, value, step)``; non-finite values are left out."""
    metrics: list[Metric] = []

    def add(key: str, value: Any, step: int = 0) -> None:
        if isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(float(value)):
            metrics.append((key, float(value), int(step)))

    if result.estimator is not None:
        _estimator_metrics(result, add)
    if result.sampler is not None:
        _sampler_metrics(result, add)
    for key in _OPTIMIZATION_METRICS:
        add(key, (result.optimization or {}).get(key))
    _mitigation_metrics(result, add)
    if result.scan is not None:
        add("scan_minimum", result.scan.get("minimum"))
    for name, seconds in result.timings.items():
        add(name, seconds)
    add("jobs_finished", sum(1 for job in result.jobs if job.status == "DONE"))
    add("usage_s", sum(float(job.usage_s) for job in result.jobs))
    for index, job in enumerate(result.jobs):  # the estimate next to what was measured, per job
        add("job_usage_s", job.usage_s, index)
        if job.shots_spent is not None:
            add("shots_spent", job.shots_spent, index)
        estimate = job.estimate or {}
        if estimate.get("qpu_s") is not None:
            add("qpu_s_estimated", estimate["qpu_s"], index)
        if estimate.get("shots") is not None:
            add("shots_estimated", estimate["shots"], index)
    return metrics


def _estimator_metrics(result: RunResult, add) -> None:
    import numpy as np

    est = result.estimator
    assert est is not None  # called only for a run with estimator results
    n_obs = len(est.observable_labels)
    evs = np.asarray(est.evs, dtype=float).reshape(-1, n_obs) if n_obs else np.zeros((0, 0))
    stds = np.asarray(est.stds, dtype=float).reshape(-1, n_obs) if n_obs else np.zeros((0, 0))
    for k in range(n_obs):
        for step in range(evs.shape[0]):
            add(f"ev/{k}", evs[step, k], step)
            add(f"std/{k}", stds[step, k], step)


def _sampler_metrics(result: RunResult, add) -> None:
    sampler = result.sampler
    assert sampler is not None  # called only for a run with sampler results
    for step, counts in enumerate(sampler.counts):
        if counts is not None:
            add("shots", sum(counts.values()), step)
            add("distinct_outcomes", len(counts), step)
    for step, fidelity in enumerate(sampler.hellinger_fidelity or []):
        add("hellinger_fidelity", fidelity, step)
    for step, fidelity in enumerate(sampler.hellinger_fidelity_mitigated or []):
        add("hellinger_fidelity_mitigated", fidelity, step)


def _mitigation_metrics(result: RunResult, add) -> None:
    for job_index, job in enumerate((result.mitigation or {}).get("jobs") or []):
        add("mitigation_circuits", job.get("num_circuits", 0), job_index)
        add("mitigation_shots_spent", job.get("shots_spent", 0), job_index)
        for key, value in (job.get("pec") or {}).items():
            if key in ("noise_gain", "gamma", "sampling_overhead"):
                add(f"pec_{key}", value, job_index)
        for key in ("build_s", "simulate_s", "combine_s"):  # the cost of mitigation, per job
            if job.get(key) is not None:
                add(f"mitigation_{key}", job[key], job_index)
        for technique, seconds in (job.get("simulate_s_by_technique") or {}).items():
            add(f"simulate_s/{technique}", seconds, job_index)


def user_name() -> str:
    """The user name MLflow shows for a run (``unknown`` where the environment has none)."""
    import getpass

    try:
        return getpass.getuser()
    except Exception:  # no user name in this environment (containers)
        return "unknown"
