"""PEC and PEA on noisy fake backends: error, standard error, sampling overhead and wall time.

Run it with ``.venv/bin/python benchmarks/pec_pea.py`` (``--seeds N``, default 5, ``--precision P``,
``--cases ghz5,mirror5``). qrt_runner only: IBM's client-side Estimator cannot learn a layer noise
model locally, so it runs PEC and PEA only with a model the user brings. The cases and exact
values are those of ``benchmarks/mitigation.py``; raw (level 0) and level 2 run alongside with
the same shots and seeds. PEC and PEA use the fake device's own layer noise model (dressed with
the single-qubit gate errors) and their default twirling (32 randomisations); PEC's shots grow by
its sampling overhead. Before every timed job the garbage collector runs (untimed).

The table shows medians over seeds of |ex-mit| (mean over observables of |exact - value|), the
error ratio to raw, the reported standard error, PEC's sampling overhead, the job's wall time and
the simulator seconds (``simulate_s`` of the job's mitigation record). Goals, per case:

* P1: PEC's wall time is at most 5x level 2's (the lines with "ratio").
* P2: PEC and PEA cut the error against raw at least 3x.
"""

from __future__ import annotations

import argparse
import gc
import os
import time

import numpy as np

from fixed_cases import cases, exact_values

TECHNIQUES = {"level0": "none", "level2": "level2", "pec": "pec", "pea": "pea"}
PEC_WALL_LIMIT = 5.0
ERROR_GOAL = 3.0


def run_case(name, device, circuit, observables, seeds: int, precision: float) -> dict:
    """Per technique, rows (error, std, overhead, wall, simulate_s) over seeds."""
    from qrt_runner.config.compose import compose_spec
    from qrt_runner.execution.backend import LocalBackend
    from qrt_runner.mitigation.options import finalize
    from qrt_runner.primitives.estimator import Estimator, EstimatorOptions

    exact = exact_values(circuit, observables)
    backend = LocalBackend.create(device, threads=2)
    rows: dict = {}
    for technique, preset in TECHNIQUES.items():
        mitigation = finalize(compose_spec([f"mitigation={preset}", f"backend={device}"]).mitigation)
        for seed in range(1, seeds + 1):
            backend.seed_simulator, backend.jobs_submitted = seed, 0
            estimator = Estimator(backend, options=EstimatorOptions(default_precision=precision, mitigation=mitigation))
            gc.collect()
            start = time.perf_counter()
            result = estimator.run([(circuit, observables)]).result()[0]
            wall = time.perf_counter() - start
            record = result.metadata.get("mitigation", {})
            overhead = (record.get("pec") or {}).get("sampling_overhead", 1.0)
            error = float(np.mean(np.abs(result.data.evs - exact)))
            rows.setdefault(technique, []).append(
                (error, float(np.mean(result.data.stds)), overhead, wall, record.get("simulate_s", 0.0))
            )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5, help="seeds 1..N (default 5)")
    parser.add_argument("--precision", type=float, default=1 / 64)
    parser.add_argument("--cases", default="ghz5,ising5,mirror5", help="comma-separated case names")
    args = parser.parse_args()

    wanted = args.cases.split(",")
    chosen = [case for case in cases(quick=False) if case[0] in wanted]
    print(
        f"precision 1/{round(1 / args.precision)}, seeds 1..{args.seeds}, medians over seeds; qrt_runner only; "
        f"load average at start {os.getloadavg()[0]:.2f}\n"
    )
    print(f"{'case':<9}{'technique':<10}{'|ex-mit|':>9}{'ratio':>7}{'std':>8}{'overhead':>9}{'wall s':>8}{'sim s':>8}")
    medians = {}
    for name, device, circuit, observables in chosen:
        rows = run_case(name, device, circuit, observables, args.seeds, args.precision)
        raw = np.median([r[0] for r in rows["level0"]])
        for technique, values in rows.items():
            error, std, overhead, wall, simulated = (np.median([v[i] for v in values]) for i in range(5))
            medians[name, technique] = (error, wall)
            ratio = "" if technique == "level0" else f"{raw / max(error, 1e-12):.1f}x"
            print(
                f"{name:<9}{technique:<10}{error:>9.4f}{ratio:>7}{std:>8.4f}{overhead:>9.2f}{wall:>8.2f}{simulated:>8.2f}",
                flush=True,
            )
    failures = 0
    print(f"\ngoals (medians over {args.seeds} seeds)")
    print(f"P1 PEC wall time <= {PEC_WALL_LIMIT:g}x level 2's")
    for name, *_ in chosen:
        ratio = medians[name, "pec"][1] / medians[name, "level2"][1]
        ok = ratio <= PEC_WALL_LIMIT
        failures += not ok
        print(
            f"  {name:<9}{'PASS' if ok else 'FAIL':<6}pec/level2 wall ratio {ratio:.2f} "
            f"(pec {medians[name, 'pec'][1]:.2f} s, level2 {medians[name, 'level2'][1]:.2f} s)"
        )
    print(f"P2 PEC and PEA cut the error against raw >= {ERROR_GOAL:g}x")
    for name, *_ in chosen:
        raw = medians[name, "level0"][0]
        ratios = {t: raw / max(medians[name, t][0], 1e-12) for t in ("pec", "pea")}
        ok = min(ratios.values()) >= ERROR_GOAL
        failures += not ok
        print(f"  {name:<9}{'PASS' if ok else 'FAIL':<6}" + "  ".join(f"{t} {r:.1f}x" for t, r in ratios.items()))
    print(f"\nload average at the end {os.getloadavg()[0]:.2f}")
    print(f"{failures} goal check{'s' if failures != 1 else ''} failed")


if __name__ == "__main__":
    main()
