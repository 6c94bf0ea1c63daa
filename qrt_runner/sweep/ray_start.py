"""A Ray sweep's start: join the cluster, share its CPUs among the points, check that its nodes
see the sweep directory (:mod:`~qrt_runner.sweep.ray_cluster`). Whatever stops the start, the
sweep's parent run is ended first (it is not yet an open sweep that closing would end), and the
reason is one line."""

from __future__ import annotations

from pathlib import Path

from qrt_runner.sweep import ray_cluster

__all__ = ["common_threads", "join"]


def common_threads(points, point_threads: dict[int, int]) -> int | None:
    """The Aer threads every point fixes (the same ``backend.max_parallel_threads`` above 0, all
    points checked), else None."""
    values = set(point_threads.values())
    if points is None or len(point_threads) != len(points) or len(values) != 1:
        return None
    (value,) = values
    return value if value > 0 else None


def join(config, directory: Path, points, fixed_threads: int | None, tracker, opening) -> tuple[int, int]:
    """Join the sweep's Ray cluster and check that its nodes see ``directory``; returns (points at
    once, Aer threads each) from the cluster's CPUs, and has each point reserve its threads as Ray
    CPUs (``fixed_threads`` where every point fixes them, unless ``remote.num_cpus`` is set).

    Raises:
        ClusterUnavailable: one line, whatever stopped the start; the parent run is ended FAILED
            with it first (KILLED, and the interrupt raised again, on Ctrl-C).
    """
    from omegaconf import open_dict, read_write

    launcher = config.hydra.launcher
    remote = (launcher.get("ray") or {}).get("remote") or {}
    asked = remote.get("num_cpus")  # (checked: 1 or more, a fraction too)
    requested = float(asked) if asked is not None else fixed_threads
    try:
        cluster = ray_cluster.connect(launcher)
        parallel, threads = cluster.share(len(points) if points is not None else None, requested)
        ray_cluster.check_shared_directory(directory, Path.cwd())
    except KeyboardInterrupt:
        _end_parent(tracker, opening, "KILLED", "interrupted while joining the Ray cluster")
        raise
    except Exception as exc:  # noqa: BLE001 - any failure to start: the parent must not stay RUNNING
        reason = (
            str(exc)
            if isinstance(exc, ray_cluster.ClusterUnavailable)
            else f"could not start the sweep on the Ray cluster ({type(exc).__name__}: {exc})"
        )
        reason = " ".join(reason.split())  # one line
        _end_parent(tracker, opening, "FAILED", reason)
        raise ray_cluster.ClusterUnavailable(reason) from None
    ray_cluster.track_points()
    if asked is None:
        with read_write(launcher), open_dict(launcher):
            launcher.ray.remote.num_cpus = threads
    return parallel, threads


def _end_parent(tracker, opening, status: str, reason: str) -> None:
    if tracker is not None:
        opening.join()
        tracker.end(status, reason)
