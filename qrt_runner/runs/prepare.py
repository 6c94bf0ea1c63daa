"""The first step of a run: everything checked, the workload built, ``config.yaml`` written."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Any

from qrt_runner.runs.check import check, limit_native_threads, share_cores, threads_per_point
from qrt_runner.runs.point import Point
from qrt_runner.runs.warm import stop_unused_tracking_helper, warm_device

__all__ = ["Prepared", "chosen_option", "prepare"]


@dataclass
class Prepared:
    """A run that passed every check: what it runs, and its resolved config."""

    spec: Any
    workload: Any
    device: Any
    state: Any
    config: dict
    config_yaml: str
    objective: Any
    inputs: list = field(default_factory=list)  # provenance.Input: the files the run read, kept
    estimate: dict | None = None  # backend=ibm: the cost estimated before the run (qrt-run estimate)


def prepare(cfg, point: Point) -> Prepared:
    """Check everything and build the workload (raises ConfigError); writes ``config.yaml``."""
    from omegaconf import OmegaConf

    from qrt_runner.config.experiments import experiment_file
    from qrt_runner.config.spec import resolve_config
    from qrt_runner.execution.backends import kind_of
    from qrt_runner.execution.simulation.executor import default_executor
    from qrt_runner.records.provenance import capture_inputs
    from qrt_runner.tasks.variational import starting_point
    from qrt_runner.tracking.resume import load_state

    stop_unused_tracking_helper(cfg)
    share_cores(cfg, threads_per_point(point))
    if point.sweep is not None and point.sweep.threads:  # points side by side on this machine
        limit_native_threads(point.sweep.threads)
    if cfg.backend.get("name") != "ibm":  # (the config is not checked yet: its kind is not known)
        default_executor().warm_up()  # the simulator's imports overlap the checks below
        warm_device(cfg)  # and so does readying a fake device there
    spec, workload, objective = check(cfg)
    device = kind_of(spec.backend).connect(spec)
    state = None
    if getattr(spec.task, "resume_from", None):
        state = load_state(spec.task.resume_from, spec.tracking if spec.tracking.enabled else None)
    if spec.task.name in ("vqe", "qaoa"):
        starting_point(spec, workload, state)
    config = resolve_config(cfg)
    config_yaml = OmegaConf.to_yaml(config)
    point.run_dir.mkdir(parents=True, exist_ok=True)
    (point.run_dir / "config.yaml").write_text(config_yaml)
    inputs = capture_inputs(spec, point.run_dir, experiment_file(chosen_option(point.overrides, "experiment")))
    return Prepared(
        spec, workload, device, state, config, config_yaml, objective, inputs, _hardware_estimate(spec, workload)
    )


def _hardware_estimate(spec, workload) -> dict | None:
    """For backend=ibm, the run's estimated cost, with a warning when the session's max_time is
    shorter (before anything is sent); recorded in results.json next to the measured usage."""

    if spec.backend.local:
        return None
    from qrt_runner.tasks.estimate import estimate, max_time_warning

    try:
        est = estimate(spec, workload)
    except Exception as exc:  # noqa: BLE001 - an estimate never stops a run
        print(f"qrt-run: warning: no cost estimate ({type(exc).__name__}: {exc})", file=sys.stderr, flush=True)
        return None
    warning = max_time_warning(spec, est)
    if warning:
        print(warning, file=sys.stderr, flush=True)
    return {"total": est["total"], "jobs": est["jobs"], "iterations": est.get("iterations"), "model": est["model"]}


def chosen_option(overrides: list[str], group: str) -> str | None:
    """The option a run's overrides choose for ``group`` (the last one wins), or None."""
    chosen = None
    for override in overrides:
        key, _, value = override.lstrip("+~").partition("=")
        if key == group:
            chosen = value
    return chosen
