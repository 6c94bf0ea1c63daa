"""What a point's config must pass before anything runs, and what it is known by.

* :func:`check`: the typed spec, the workload and the objective (raises ConfigError);
* :func:`point_config_hash`: the config hash a sweep point records (its resume key);
* :func:`share_cores`, :func:`limit_native_threads`, :func:`threads_per_point`: a point's share of
  the machine's cores when points run side by side.
"""

from __future__ import annotations

import os
from typing import Any

from qrt_runner.runs.point import Point

__all__ = ["check", "limit_native_threads", "point_config_hash", "share_cores", "threads_per_point"]


def check(cfg) -> tuple[Any, Any, Any]:
    """The typed spec, the workload and the checked objective of a composed config (raises ConfigError)."""
    import numpy as np

    from qrt_runner.config.spec import build_spec
    from qrt_runner.tasks.runner import build_workload

    spec = build_spec(cfg)
    workload = build_workload(spec)
    values = workload.parameter_values
    num_sets = int(np.prod(values.shape[:-1])) if values.ndim > 1 else 1
    labels = [label for label, _ in workload.observables]
    assert spec.objective is not None  # build_spec() parses it
    objective = spec.objective.check(spec.task.name, spec.primitive.name, labels, num_sets, workload.circuit.num_qubits)
    return spec, workload, objective


def share_cores(cfg, threads: int | None) -> None:
    """Points that run side by side: a point whose Aer threads are 0 (all cores) gets ``threads``."""
    from omegaconf import open_dict

    if threads and cfg.backend.get("max_parallel_threads") == 0:
        with open_dict(cfg):
            cfg.backend.max_parallel_threads = threads


_THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "BLIS_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
)


def limit_native_threads(threads: int) -> None:
    """Native thread pools of the processes a point starts (its simulator) get ``threads``, as
    loky sets for its own workers (the forkserver's workers do not get loky's); a value already
    set is kept."""
    for name in _THREAD_VARIABLES:
        os.environ.setdefault(name, str(threads))


def point_config_hash(cfg, threads: int | None) -> str:
    """The config hash a sweep point with config ``cfg`` records (its resume key), computed as
    :func:`prepare` and :func:`track` do, without changing ``cfg``."""
    import copy

    from qrt_runner.config.spec import resolve_config
    from qrt_runner.tracking import config_hash

    cfg = copy.deepcopy(cfg)
    share_cores(cfg, threads)
    return config_hash(resolve_config(cfg))


def threads_per_point(point: Point) -> int | None:
    """Aer threads for a sweep point: its SLURM allocation, or its share of this machine's cores."""
    if point.sweep is None:
        return None
    slurm = os.environ.get("SLURM_CPUS_PER_TASK")
    if slurm and slurm.isdigit():
        return int(slurm)
    return point.sweep.threads
