"""``qrt-run``: Hydra composes the config, the runner runs it, MLflow records it.

Exit codes: 0 success, 1 a run failed (time limit, expired session, Ctrl-C in a job), 2 invalid
config (one line on stderr naming the key and the fix; nothing is left in the run directory),
130 interrupted outside a job.
"""

from __future__ import annotations

import difflib
import os
import re
import shutil
import sys
from pathlib import Path

import numpy as np

_FAILED_RUNS: list[str] = []
_CONFIG_ERRORS: list[str] = []
_TRACKERS: dict[tuple[str, str], object] = {}


def _config_dir() -> str:
    from importlib.resources import files

    return str(files("qrt_runner.conf"))


def _tracker(spec):
    from qrt_runner.tracking import MlflowTracker

    key = (spec.tracking.uri, spec.tracking.experiment_name)
    if key not in _TRACKERS:
        _TRACKERS[key] = MlflowTracker(spec.tracking.uri, spec.tracking.experiment_name)
    return _TRACKERS[key]


def _remove_half_written(run_dir: Path) -> None:
    """Delete a run directory that holds nothing but Hydra's own files."""
    if run_dir.is_dir() and all(p.name == ".hydra" or p.suffix == ".log" for p in run_dir.iterdir()):
        shutil.rmtree(run_dir, ignore_errors=True)


def run_task(cfg) -> None:
    """The Hydra task: one composed config, one run."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode
    from omegaconf import OmegaConf

    from qrt_runner import ibm
    from qrt_runner.errors import ConfigError
    from qrt_runner.runner import build_workload, run_experiment
    from qrt_runner.plots import plot_zne
    from qrt_runner.scan import summarize_scan
    from qrt_runner.spec import build_spec, resolve_config
    from qrt_runner.variational import STATE_FILE, load_state, starting_point
    from qrt_runner.simulation.executor import default_executor

    hydra_cfg = HydraConfig.get()
    run_dir = Path(hydra_cfg.runtime.output_dir)
    try:
        spec = build_spec(cfg)
        if spec.backend.name != "ibm":
            default_executor().warm_up()
        workload = build_workload(spec)
        device = ibm.connect(spec) if spec.backend.name == "ibm" else None
        state = None
        if getattr(spec.task, "resume_from", None):
            state = load_state(spec.task.resume_from, spec.tracking.uri if spec.tracking.enabled else None)
        if spec.task.name in ("vqe", "qaoa"):
            starting_point(spec, workload, state)
    except ConfigError as exc:
        _remove_half_written(run_dir)
        _CONFIG_ERRORS.append(str(exc))  # reported after Hydra returns, as one line
        return
    config = resolve_config(cfg)
    config_yaml = OmegaConf.to_yaml(config)
    (run_dir / "config.yaml").write_text(config_yaml)

    overrides = list(hydra_cfg.overrides.task)
    tracker = run_id = None
    if spec.tracking.enabled:
        tracker = _tracker(spec)
        parent = None
        if hydra_cfg.mode == RunMode.MULTIRUN:
            parent = tracker.parent_run(
                str(Path(hydra_cfg.sweep.dir).resolve()), f"sweep {Path(hydra_cfg.sweep.dir).name}",
                {"hydra.sweep_dir": str(hydra_cfg.sweep.dir)},
            )
        tags = {"overrides": " ".join(overrides) or "(none)", "run_dir": str(run_dir.resolve()), "task": spec.task.name}
        if state is not None:
            tags["resumed_from"] = spec.task.resume_from
        run_id = tracker.start_run(spec.tracking.run_name, tags, parent)

    print(f"qrt-run: {spec.primitive.name} on {spec.backend.name} ({spec.session.mode} mode) {' '.join(overrides)}", flush=True)
    try:
        if spec.task.name in ("vqe", "qaoa"):
            result = _run_loop(spec, workload, state, run_dir, tracker, run_id)
        else:
            result = run_experiment(spec, workload, device=device, progress=_print_progress)
            if spec.task.name == "scan":
                result.scan = summarize_scan(spec, result)
    except BaseException as exc:  # never leave the MLflow run RUNNING
        if tracker is not None:
            killed = isinstance(exc, KeyboardInterrupt)
            tracker.end_run(run_id, "KILLED" if killed else "FAILED", f"{type(exc).__name__}: {exc}")
        raise
    result.write_json(run_dir / "results.json")
    extra_artifacts = [plot_zne(result, run_dir / "zne.png"), result.write_layer_noise_model(run_dir / "layer_noise_model.json")]
    if tracker is not None:
        circuits = {"circuit": workload.circuit}
        tracker.log_run(run_id, config=config, config_yaml=config_yaml, result=result, run_dir=run_dir, circuits=circuits)
        for artifact in extra_artifacts:
            if artifact is not None:
                tracker.log_artifact(run_id, artifact)
        for name in (STATE_FILE, "optimal_parameters.json"):
            if (run_dir / name).is_file():
                tracker.log_artifact(run_id, run_dir / name)
        tracker.end_run(run_id, result.status, result.error)
    _print_summary(result, run_dir, run_id)
    if result.status != "FINISHED":
        _FAILED_RUNS.append(f"{run_dir}: {result.error}")


def _run_loop(spec, workload, state, run_dir: Path, tracker, run_id):
    """A VQE/QAOA loop: per iteration, save the optimiser state, log metrics, draw progress."""
    import json

    from qrt_runner.progress import ProgressBar
    from qrt_runner.variational import STATE_FILE, run_variational

    bar = ProgressBar(spec.task.optimizer.maxiter)

    def on_iteration(iteration, current, job_time):
        (run_dir / STATE_FILE).write_text(json.dumps(current.to_dict()))
        if tracker is not None:
            tracker.log_metrics(run_id, {
                "energy": iteration.energy, "energy_std": iteration.std, "best_energy_so_far": iteration.best_energy,
                "grad_norm": iteration.grad_norm, "evaluations_used": iteration.evaluations, "job_time_s": job_time,
            }, step=iteration.iteration)
        bar.update(iteration.iteration, iteration.energy, iteration.std, iteration.best_energy)

    try:
        result = run_variational(spec, workload, state=state, on_iteration=on_iteration)
    finally:
        bar.close()
    names = result.parameter_names
    (run_dir / "optimal_parameters.json").write_text(
        json.dumps(dict(zip(names, result.optimization["optimal_parameters"])), indent=2, ensure_ascii=False)
    )
    return result


def _print_progress(finished: int, total: int, job) -> None:
    if total > 1:
        print(f"  job {finished}/{total} done: {job.job_id()} ({job.usage_s:.2f} s)", flush=True)


def _print_summary(result, run_dir: Path, run_id: str | None) -> None:
    opt = result.optimization
    if opt is not None:
        line = f"  {opt['optimizer']}: {opt['iterations']} iterations, {opt['evaluations']} evaluations; best <{opt['objective']}> = "
        line += f"{opt['best_energy']:+.6f} ± {opt['best_std']:.6f}" if opt["best_energy"] is not None else "none"
        if opt.get("exact_energy") is not None and opt["best_energy"] is not None:
            line += f" (exact {opt['exact_energy']:+.6f}, error {opt['error_to_exact']:.2e})"
        print(line)
        if opt.get("best_bitstring"):
            print(f"  best cut {opt['best_cut']:g} ({opt['best_bitstring']}) of optimum {opt['optimal_cut']}; approximation ratio {opt['approximation_ratio']:.3f}")
    if result.scan is not None and result.scan.get("minimum") is not None:
        where = ", ".join(f"{k}={v:.4f}" for k, v in result.scan["argmin"].items())
        print(f"  scan minimum <{result.scan['observable']}> = {result.scan['minimum']:+.6f} at {where}")
    if result.estimator is not None:
        est = result.estimator
        evs = est.evs.reshape(-1, len(est.observable_labels))
        stds = est.stds.reshape(-1, len(est.observable_labels))
        shown = min(len(evs), 4)
        for k, label in enumerate(est.observable_labels):
            values = ", ".join(f"{evs[i, k]:+.4f} ± {stds[i, k]:.4f}" for i in range(shown))
            more = f" … ({len(evs)} sets)" if len(evs) > shown else ""
            print(f"  <{label}> = {values}{more}")
    if result.sampler is not None:
        first = next((c for c in result.sampler.counts if c), None)
        if first:
            top = sorted(first.items(), key=lambda kv: -kv[1])[:6]
            print("  counts: " + ", ".join(f"{k}: {v}" for k, v in top) + (" …" if len(first) > 6 else ""))
        fid = [f for f in (result.sampler.hellinger_fidelity or []) if f is not None]
        mitigated = [f for f in (result.sampler.hellinger_fidelity_mitigated or []) if f is not None]
        if fid:
            print(f"  Hellinger fidelity to ideal: {np.mean(fid):.4f}" + (f" (readout-mitigated {np.mean(mitigated):.4f})" if mitigated else ""))
    timing = ", ".join(f"{k[5:-2]} {v:.2f}s" for k, v in result.timings.items())
    ids = [j.job_id for j in result.jobs]
    jobs = ", ".join(ids) if len(ids) <= 4 else f"{len(ids)} ({ids[0]} … {ids[-1]})"
    print(f"  {result.status}: {timing}; jobs: {jobs}")
    if result.error:
        print(f"  error: {result.error}")
    print(f"  results: {run_dir / 'results.json'}" + (f"  mlflow run: {run_id}" if run_id else ""), flush=True)


def _one_line(exc: BaseException) -> str:
    """Hydra's multi-line composition errors as one line that names the key."""
    text = str(exc)
    unknown = re.search(r"Key '([^']+)' is not in struct\s+full_key: (\S+)", text)
    if unknown:
        return f"{unknown.group(2)}: unknown key; check its spelling (qrt-run --cfg job lists every key)"
    missing = re.search(r"Could not find '([^/']+)/([^']+)'", text)
    if missing:
        group, name = missing.groups()
        options = re.findall(r"^\t(\S+)$", text.split("Config search path")[0], flags=re.M)
        options = [o for o in options if not o.startswith("base_")]
        if len(options) > 12:
            close = difflib.get_close_matches(name, options, n=3)
            hint = f"did you mean {' or '.join(close)}? " if close else ""
            return f"{group}={name}: no such option; {hint}({len(options)} options: qrt-run --help lists them)"
        return f"{group}={name}: no such option; choose one of {', '.join(options)}" if options else f"{group}={name}: no such option"
    override = re.match(r"Could not override '([^']+)'", text)
    if override:
        return f"{override.group(1)}: unknown key; check its spelling (qrt-run --cfg job lists every key)"
    return " ".join(part.strip() for part in text.splitlines() if part.strip()) or type(exc).__name__


def main() -> None:
    """Console entry point of ``qrt-run``."""
    os.environ["HYDRA_FULL_ERROR"] = "1"
    if os.getcwd() not in sys.path:  # circuit=factory imports the user's own modules from here
        sys.path.insert(0, os.getcwd())
    import hydra
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    from qrt_runner.config.experiments import register_experiments
    from qrt_runner.config.schema import register_configs
    from qrt_runner.errors import ConfigError

    register_configs()
    register_experiments()
    entry = hydra.main(version_base=None, config_path=_config_dir(), config_name="config")(run_task)
    code = 0
    try:
        entry()
    except ConfigError as exc:
        print(f"qrt-run: invalid config: {exc}", file=sys.stderr)
        code = 2
    except (HydraException, OmegaConfBaseException) as exc:
        print(f"qrt-run: invalid config: {_one_line(exc)}", file=sys.stderr)
        code = 2
    except KeyboardInterrupt:
        print("qrt-run: interrupted", file=sys.stderr)
        code = 130
    finally:
        status = "KILLED" if code == 130 else "FAILED" if (_FAILED_RUNS or code) else "FINISHED"
        for tracker in _TRACKERS.values():
            tracker.close_parents(status)
    if code == 0 and _CONFIG_ERRORS:
        for message in dict.fromkeys(_CONFIG_ERRORS):
            print(f"qrt-run: invalid config: {message}", file=sys.stderr)
        code = 2
    if code == 0 and _FAILED_RUNS:
        print(f"qrt-run: {len(_FAILED_RUNS)} run(s) failed: " + "; ".join(_FAILED_RUNS), file=sys.stderr)
        code = 1
    sys.exit(code)


if __name__ == "__main__":
    main()
