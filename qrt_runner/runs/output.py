"""What ``qrt-run`` prints about a run: job progress and the closing summary."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def print_progress(finished: int, total: int, job) -> None:
    if total > 1:
        print(f"  job {finished}/{total} done: {job.job_id()} ({job.usage_s:.2f} s)", flush=True)


def print_summary(result, run_dir: Path, run_id: str | None) -> None:
    opt = result.optimization
    if opt is not None:
        line = f"  {opt['optimizer']}: {opt['iterations']} iterations, {opt['evaluations']} evaluations; best <{opt['objective']}> = "
        line += f"{opt['best_energy']:+.6f} ± {opt['best_std']:.6f}" if opt["best_energy"] is not None else "none"
        if opt.get("exact_energy") is not None and opt["best_energy"] is not None:
            line += f" (exact {opt['exact_energy']:+.6f}, error {opt['error_to_exact']:.2e})"
        print(line)
        if opt.get("best_bitstring"):
            print(
                f"  best cut {opt['best_cut']:g} ({opt['best_bitstring']}) of optimum {opt['optimal_cut']}; approximation ratio {opt['approximation_ratio']:.3f}"
            )
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
            print(
                f"  Hellinger fidelity to ideal: {np.mean(fid):.4f}"
                + (f" (readout-mitigated {np.mean(mitigated):.4f})" if mitigated else "")
            )
    timing = ", ".join(f"{k[5:-2]} {v:.2f}s" for k, v in result.timings.items())
    ids = [j.job_id for j in result.jobs]
    jobs = ", ".join(ids) if len(ids) <= 4 else f"{len(ids)} ({ids[0]} … {ids[-1]})"
    print(f"  {result.status}: {timing}; jobs: {jobs}")
    if result.error:
        print(f"  error: {result.error}")
    print(f"  results: {run_dir / 'results.json'}" + (f"  mlflow run: {run_id}" if run_id else ""), flush=True)
