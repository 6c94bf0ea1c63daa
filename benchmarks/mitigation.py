"""Level-2 error mitigation against IBM's client-side Estimator, on generated circuit families, over seeds.

Run it with ``.venv/bin/python benchmarks/mitigation.py`` (``--seeds N``, default 10, from
``--first-seed`` 1;
``--quick``: 3 seeds and fewer sizes; ``--families mirror,qaoa``; ``--shots 8192``;
``--no-ibm``; ``--ibm-cache FILE`` keeps IBM's results and walls for reruns of qrt's side;
``--qrt-option mitigation.KEY=VALUE``, repeatable, adds an override to qrt's level 2;
``--plain-twirl`` simulates qrt's twirl Paulis without error, as qrt_runner does by default;
``--ibm-seeding distinct`` samples each of IBM's noise factors with its own Aer seed, as separate
executions on hardware are: as shipped, IBM's local mode samples them all with one seed, which
correlates their errors and narrows its extrapolation;
``--json FILE`` writes every pair after every seed; ``--report FILE`` prints the table of such a
file without running anything).

Both sides simulate the same physics: qrt's level 2 runs with
``mitigation.twirling.dressing_noise=true``, so its twirl Paulis are compiled into ``sx`` gates
with their errors, as IBM's local mode simulates its boxes' dressings (without it, qrt's twirled
circuits are up to a quarter less noisy than IBM's and the comparison flatters qrt).

For every seed s, family (:mod:`circuit_families`: random mirror circuits of 4-7 qubits with
Z strings of every weight, layered random Clifford circuits with stabilizer observables, QAOA
MaxCut at 1-3 layers and Trotterised transverse-field Ising chains at 1-5 steps, on fake_manila,
fake_quito and fake_nairobi) and case drawn from s, both sides run the same ISA circuit
(:mod:`estimator_runners`) at level 0 (raw) and level 2, 8192 shots, with Aer seed
s * 10,000,019; the order of the two sides alternates with the seed, so that both are timed under
the same load. The error of a run is the mean over the case's observables of |exact - value|.

Per family the table shows (:mod:`paired_stats`, 95% bootstrap intervals over resampled seeds):
the median raw and level-2 error of each side, the ratio of qrt's median level-2 error to IBM's,
the pairs (seed x case) qrt wins, ties and loses, and the seeds it wins (mean over the seed's
cases), qrt's reduction (median raw / median level 2) and the median over pairs of qrt's level-2
wall time over IBM's. Goals, PASS only where the interval supports them:

* accuracy: the upper end of the ratio's interval <= 1 (qrt's median level-2 error at most IBM's);
* reduction: the lower end of qrt's raw / level-2 interval >= 5, where the raw error allows it
  (median raw error >= 5x the median reported level-2 standard error; else ``n/a``);
* speed: the upper end of the time ratio's interval <= 0.5.

Per family the distribution of the per-pair accuracy ratio (qrt / IBM) is printed as its 10, 25,
50, 75 and 90% quantiles, and whether each side's level-2 standard errors are honest: the share of
observables whose value lies within 2 standard errors of the exact one (95% if they are right)
and the median |value - exact| / std (0.67).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np

import paired_stats as ps
from circuit_families import FAMILIES, family_cases
from estimator_runners import SEED_STRIDE, IbmRunner, QrtRunner, isa_case

QUICK_SEEDS = 3
BREAKDOWN = ("build_s", "simulate_s", "combine_s")  # qrt's level-2 job record (the rest: its threads and IPC)
REDUCTION_GOAL = 5.0
SPEED_GOAL = 0.5
DRESSED = "mitigation.twirling.dressing_noise=true"  # IBM's physics: twirl Paulis compiled into sx gates


def run_pairs(families, seeds, quick, qrt, ibm, log=print, save=None):
    """Per family: a list of rows (seed, case, device, errors and walls of both sides); ``save``
    (a path) gets them after every seed."""
    rows: dict[str, list[dict]] = {family: [] for family in families}
    started = time.perf_counter()
    for seed in seeds:
        aer_seed = seed * SEED_STRIDE
        for family in families:
            for case in family_cases(family, seed, quick):
                isa, observables = isa_case(case.device, case.circuit, case.observables)
                row = {"seed": seed, "case": case.name, "device": case.device, "exact": case.exact.tolist()}
                sides = [("qrt", qrt), ("ibm", ibm)] if seed % 2 else [("ibm", ibm), ("qrt", qrt)]
                for side, runner in sides:
                    if runner is None:
                        continue
                    for technique in ("level0", "level2"):
                        evs, stds, wall, factors = runner.run(case.device, isa, observables, technique, aer_seed)
                        if side == "qrt" and technique == "level2":
                            row["qrt_breakdown"] = runner.breakdown()
                        row[f"{side}_{technique}"] = {
                            "error": float(np.mean(np.abs(case.exact - evs))),
                            "evs": np.asarray(evs).tolist(),
                            "std": float(np.mean(stds)),
                            "stds": np.asarray(stds).tolist(),
                            "wall": float(wall),
                            "factors": None if factors is None else np.asarray(factors).tolist(),
                            "cached": side == "ibm" and runner.last_cached,
                        }
                rows[family].append(row)
        if save:
            Path(save).write_text(json.dumps(rows))
        log(f"seed {seed} done ({time.perf_counter() - started:.0f} s, load {os.getloadavg()[0]:.2f})", flush=True)
    return rows


def _grid(rows, key, field):
    """(seeds, cases) array of ``row[key][field]``."""
    seeds = sorted({row["seed"] for row in rows})
    return np.array([[row[key][field] for row in rows if row["seed"] == s] for s in seeds], dtype=float)


def _coverage(rows) -> list[str]:
    """Whether each side's level-2 standard errors are honest: the share of observables whose
    value lies within 2 standard errors of the exact one (95% if the errors are normal and the
    standard errors right) and the median of |value - exact| / std (0.67); nothing for pairs
    saved without per-observable standard errors."""
    if not all("stds" in row[f"{side}_level2"] for row in rows for side in ("qrt", "ibm")):
        return []
    parts = []
    for side in ("qrt", "ibm"):
        exact = np.concatenate([row["exact"] for row in rows])
        evs = np.concatenate([row[f"{side}_level2"]["evs"] for row in rows])
        stds = np.concatenate([row[f"{side}_level2"]["stds"] for row in rows])
        z = np.abs(evs - exact) / np.maximum(stds, 1e-15)
        parts.append(f"{side} {np.mean(z <= 2):.0%} within 2 std, median |error| / std {np.median(z):.2f}")
    return [f"  error bars ({len(exact)} observables; honest: 95%, 0.67): {'; '.join(parts)}"]


def report(rows: dict[str, list[dict]], with_ibm: bool) -> int:
    """Prints the per-family table and goals; returns the number of failed goals."""
    failures = 0
    for family, family_rows in rows.items():
        if not family_rows:
            continue
        seeds = len({row["seed"] for row in family_rows})
        names = sorted({f"{row['case']}@{row['device']}" for row in family_rows})
        q_raw, q_mit = _grid(family_rows, "qrt_level0", "error"), _grid(family_rows, "qrt_level2", "error")
        q_std = _grid(family_rows, "qrt_level2", "std")
        print(
            f"\n{family}: {seeds} seeds x {q_raw.shape[1]} cases ({', '.join(names[:8])}{' ...' if len(names) > 8 else ''})"
        )
        print(f"  qrt  raw {ps.median_interval(q_raw).text()}  level 2 {ps.median_interval(q_mit).text()}")
        reduction = ps.ratio_of_medians(q_raw, q_mit)
        applies = np.median(q_raw) >= REDUCTION_GOAL * np.median(q_std)
        verdicts = []
        if applies:
            floor = f"; level-2 std {np.median(q_std):.4f}"
            verdicts.append(
                ("reduction >= 5x", reduction.low >= REDUCTION_GOAL, f"raw / level 2 {reduction.text(1)}{floor}")
            )
        else:
            print(
                f"  reduction raw / level 2 {reduction.text(1)} (goal n/a: raw error below 5x the level-2 std"
                f" {np.median(q_std):.4f})"
            )
        if with_ibm:
            i_raw, i_mit = _grid(family_rows, "ibm_level0", "error"), _grid(family_rows, "ibm_level2", "error")
            print(f"  IBM  raw {ps.median_interval(i_raw).text()}  level 2 {ps.median_interval(i_mit).text()}")
            accuracy = ps.ratio_of_medians(q_mit, i_mit)
            won, tied, lost = ps.wins(q_mit, i_mit)
            seeds_won, seeds_lost = ps.seed_wins(q_mit, i_mit)
            pair_ratios = np.ravel(q_mit / np.maximum(i_mit, 1e-15))
            quantiles = np.percentile(pair_ratios, [10, 25, 50, 75, 90])
            print(
                f"  pairs qrt wins {won}, ties {tied}, loses {lost}; seeds won {seeds_won}, lost {seeds_lost}; "
                f"per-pair error ratio qrt/IBM quantiles 10-25-50-75-90%: {' '.join(f'{v:.2f}' for v in quantiles)}"
            )
            live = [row for row in family_rows if not row["ibm_level2"]["cached"]]  # timed side by side
            timed = live or family_rows
            walls = {s: np.array([[row[f"{s}_level2"]["wall"]] for row in timed]) for s in ("qrt", "ibm")}
            times = ps.median_of_ratios(walls["qrt"], walls["ibm"])  # each pair its own cluster
            q_wall, i_wall = np.median(walls["qrt"]), np.median(walls["ibm"])
            if len(live) < len(family_rows):
                print(
                    f"  time ratio over the {len(live)} pairs timed side by side in this run"
                    if live
                    else "  time ratio from IBM's cached walls (timed in an earlier run, not side by side)"
                )
            for line in _coverage(family_rows):
                print(line)
            parts = {k: np.median([row["qrt_breakdown"][k] for row in family_rows]) for k in BREAKDOWN}
            print(f"  qrt level-2 job, median s: {', '.join(f'{k} {v:.3f}' for k, v in parts.items())}")
            verdicts.append(("accuracy <= IBM", accuracy.high <= 1.0, f"median error qrt / IBM {accuracy.text(2)}"))
            verdicts.append(
                (
                    "time <= 0.5 IBM",
                    times.high <= SPEED_GOAL,
                    f"level-2 wall qrt / IBM {times.text(2)} (medians {q_wall:.2f} s / {i_wall:.2f} s)",
                )
            )
        for goal, ok, text in verdicts:
            failures += not ok
            print(f"  {'PASS' if ok else 'FAIL':<5}{goal:<17}{text}")
    return failures


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=None, help="seeds 1..N (default 10; --quick: 3)")
    parser.add_argument("--first-seed", type=int, default=1, help="seeds first..first+N-1 (default 1)")
    parser.add_argument("--quick", action="store_true", help="3 seeds, fewer sizes per family")
    parser.add_argument("--families", default=",".join(FAMILIES), help="comma-separated families")
    parser.add_argument("--shots", type=int, default=8192, help="default_shots of both sides (default 8192)")
    parser.add_argument("--no-ibm", action="store_true", help="qrt_runner only (no comparison, no time ratio)")
    parser.add_argument("--ibm-cache", default=None, help="JSON file keeping IBM's results (and walls) per run")
    parser.add_argument("--qrt-option", action="append", default=[], help="extra mitigation.* override for level 2")
    parser.add_argument(
        "--ibm-seeding",
        default="same",
        choices=("same", "distinct"),
        help="distinct: each of IBM's Aer calls (one per noise factor) its own seed, as on hardware",
    )
    parser.add_argument(
        "--plain-twirl", action="store_true", help="qrt's twirl Paulis without error (qrt_runner's default physics)"
    )
    parser.add_argument("--json", default=None, help="write every pair to this JSON file (after every seed)")
    parser.add_argument("--report", default=None, help="print the table of a --json file without running anything")
    args = parser.parse_args()
    if args.report:
        rows = json.loads(Path(args.report).read_text())
        with_ibm = all("ibm_level2" in row for family_rows in rows.values() for row in family_rows)
        seeds = sorted({row["seed"] for family_rows in rows.values() for row in family_rows})
        print(f"pairs of {args.report}: seeds {', '.join(map(str, seeds))}")
        failures = report(rows, with_ibm)
        print(f"\n{failures} goal check{'s' if failures != 1 else ''} failed")
        return
    seeds = range(args.first_seed, args.first_seed + (args.seeds or (QUICK_SEEDS if args.quick else 10)))
    qrt_options = ([] if args.plain_twirl else [DRESSED]) + args.qrt_option
    families = [f for f in args.families.split(",") if f]
    unknown = sorted(set(families) - set(FAMILIES))
    if unknown:
        parser.error(f"unknown families {', '.join(unknown)}; choose from {', '.join(FAMILIES)}")
    print(
        f"level 2 vs IBM's client-side Estimator: {args.shots} shots, seeds {seeds[0]}..{seeds[-1]}, families {', '.join(families)}"
        f"{', qrt ' + ' '.join(qrt_options) if qrt_options else ''}"
        f"{', IBM seeding ' + args.ibm_seeding if not args.no_ibm else ''}; load {os.getloadavg()[0]:.2f}"
    )
    qrt = QrtRunner(args.shots, tuple(qrt_options))
    ibm = None if args.no_ibm else IbmRunner(args.shots, args.ibm_cache, args.ibm_seeding)
    warm = family_cases(families[0], 0, True)[0]  # start the simulator process, import everything: untimed
    isa, observables = isa_case(warm.device, warm.circuit, warm.observables)
    for runner in (qrt, ibm):
        if runner is not None:
            runner.run(warm.device, isa, observables, "level2", 0)
    rows = run_pairs(families, seeds, args.quick, qrt, ibm, save=args.json)
    if ibm is not None and ibm.cached_runs:
        print(f"IBM: {ibm.cached_runs} runs taken from {args.ibm_cache} (their walls as recorded there)")
    failures = report(rows, ibm is not None)
    print(f"\nload at the end {os.getloadavg()[0]:.2f}; {failures} goal check{'s' if failures != 1 else ''} failed")


if __name__ == "__main__":
    main()
