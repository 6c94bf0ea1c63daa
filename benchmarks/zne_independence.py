"""Are an implementation's ZNE noise factors sampled independently? A permutation test on level 2.

On hardware the circuits of different noise factors run as separate executions, so their shot
noise is independent; the only thing they share is the TREX calibration (both sides share it, and
at equal calibration shots its part is small). Correlated noise factors make an extrapolation
look more precise than independent executions can be: the fit's weights have opposite signs
(about +1.3, +0.3, -0.7 for a line through 1, 3, 5), so a common deviation largely cancels.

For each side (qrt_runner's Estimator; IBM's client-side ``executor_estimator`` in local mode, run
with the options, shots, randomisations and Aer seeds of ``benchmarks/mitigation.py``), the script
takes level 2's per-noise-factor values per seed and observable, and extrapolates them to zero
noise with one fit and choice rule for both (qrt_runner's: exponential, then linear, by
uncertainty; on the same data IBM's own fits give the same errors). It then shuffles the values of
noise factors 3 and 5 across seeds, which keeps every factor's spread and removes any dependence
between factors, and extrapolates again. Printed per side: the correlation of the per-seed
deviations between factors (mean over observables), the mean |exact - value| of the side's own
level-2 values, that of the refit ("actual") and its mean over the shuffles ("independent"), and
p = the fraction of shuffles at least as accurate as the actual data. Independent factors give
actual ~ independent and p ~ 0.5; p near 0 means the factors are positively dependent.

``--ibm-seeding distinct`` gives every Aer call of IBM's local mode (one per noise factor and one
for the TREX calibration) its own seed drawn from the job's seed; by default (``same``) IBM's
local mode samples every call with the same ``seed_simulator``. IBM's 16-qubit ``ising8`` takes
about 6 minutes a seed on 2 cores: ``--ibm-cache FILE`` keeps its per-factor values.

    python benchmarks/zne_independence.py --case ising8 --shots 8192 --seeds 11-30 --ibm-cache ibm_nf.json
"""

from __future__ import annotations

import argparse
import json
import sys
from contextlib import nullcontext
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import fixed_cases as bench  # noqa: E402  (the cases, runners, options and seeds of the main benchmark)
from estimator_runners import distinct_aer_seeds  # noqa: E402
from qrt_runner.mitigation.extrapolation import choose, fit  # noqa: E402

EXTRAPOLATORS = ("exponential", "linear")


def extrapolate(values: np.ndarray, stds: np.ndarray, factors: np.ndarray) -> np.ndarray:
    """Zero-noise values ``(seeds, observables)`` from per-factor ``values`` ``(seeds, observables, factors)``."""
    out = np.zeros(values.shape[:2])
    for s in range(values.shape[0]):
        for o in range(values.shape[1]):
            y, sigma = values[s, o], stds[s, o]
            fits = [fit(name, factors, y, sigma, [0.0]) for name in EXTRAPOLATORS]
            out[s, o] = choose(fits, factors, y, sigma, 1.0, "uncertainty").values[0]
    return out


def independence(values, stds, factors, exact, permutations: int, seed: int = 0) -> dict:
    """Correlations between factors, and the mean |error| of the refit on the actual and on shuffled data."""
    rng = np.random.default_rng(seed)
    deviations = values - values.mean(axis=0)
    pairs = [(i, j) for i in range(len(factors)) for j in range(i + 1, len(factors))]
    correlations = {
        (i, j): float(
            np.mean([np.corrcoef(deviations[:, o, i], deviations[:, o, j])[0, 1] for o in range(values.shape[1])])
        )
        for i, j in pairs
    }
    actual = float(np.abs(extrapolate(values, stds, factors) - exact).mean())
    shuffled = []
    for _ in range(permutations):
        v, s = values.copy(), stds.copy()
        for f in range(1, len(factors)):
            order = rng.permutation(len(values))
            v[:, :, f], s[:, :, f] = values[order, :, f], stds[order, :, f]
        shuffled.append(float(np.abs(extrapolate(v, s, factors) - exact).mean()))
    shuffled = np.array(shuffled)
    return {
        "correlations": correlations,
        "actual": actual,
        "independent": float(shuffled.mean()),
        "p": float(np.mean(shuffled <= actual)),
    }


def qrt_side(case, shots, seeds):
    name, device, circuit, observables = case
    runner = bench.QrtRunner(shots)
    rows = []
    for s in seeds:
        runner.run(device, circuit, observables, "level2", 1 / 64, s * bench.SEED_STRIDE)
        result = runner.last_result
        md = result.metadata["mitigation"]
        rows.append(
            {
                "evs": np.asarray(result.data.evs).tolist(),
                "evs_noise_factors": np.asarray(md["evs_noise_factors"])[0].tolist(),
                "stds_noise_factors": np.asarray(md["stds_noise_factors"])[0].tolist(),
                "noise_factors": md["noise_factors"],
            }
        )
    return rows


def ibm_side(case, shots, seeds, seeding, cache_path):
    name, device, circuit, observables = case
    cache = json.loads(cache_path.read_text()) if cache_path and cache_path.is_file() else {}
    runner = None
    rows = []
    for s in seeds:
        key = f"{name}|{shots}|{seeding}|{s}"
        if key not in cache:
            runner = runner or bench.IbmRunner(shots)
            with distinct_aer_seeds() if seeding == "distinct" else nullcontext():
                runner.run(device, circuit, observables, "level2", 1 / 64, s * bench.SEED_STRIDE)
            data = runner.last_data
            cache[key] = {
                "evs": np.asarray(data.evs).tolist(),
                "evs_noise_factors": np.asarray(data.evs_noise_factors).tolist(),
                "stds_noise_factors": np.asarray(data.stds_noise_factors).tolist(),
                "noise_factors": [1.0, 3.0, 5.0],
            }
            if cache_path:
                cache_path.write_text(json.dumps(cache, indent=1))
            print(f"  IBM seed {s} done", flush=True)
        rows.append(cache[key])
    return rows


def report(label, rows, exact, permutations):
    values = np.array([r["evs_noise_factors"] for r in rows], dtype=float)
    stds = np.array([r["stds_noise_factors"] for r in rows], dtype=float)
    factors = np.asarray(rows[0]["noise_factors"], dtype=float)
    own = float(np.abs(np.array([r["evs"] for r in rows]) - exact).mean())
    result = independence(values, stds, factors, exact, permutations)
    corr = "  ".join(f"{result['correlations'][pair]:+.2f}" for pair in sorted(result["correlations"]))
    print(
        f"{label:<22}{len(rows):>6}   {corr}    {own:.4f}   {result['actual']:.4f}   "
        f"{result['independent']:.4f}   {result['p']:.3f}"
    )
    return result


def parse_seeds(text: str) -> list[int]:
    first, _, last = text.partition("-")
    return list(range(int(first), int(last or first) + 1))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", default="ising8", help="a case of benchmarks/mitigation.py (default ising8)")
    parser.add_argument("--shots", type=int, default=8192, help="default_shots per basis and noise factor")
    parser.add_argument("--seeds", default="1-20", help="seed range FIRST-LAST (default 1-20)")
    parser.add_argument("--permutations", type=int, default=200, help="shuffles per side (default 200)")
    parser.add_argument("--ibm-seeding", default="same", choices=("same", "distinct", "both"))
    parser.add_argument("--ibm-cache", default=None, help="JSON file keeping IBM's per-factor values per seed")
    parser.add_argument("--no-ibm", action="store_true", help="qrt_runner only")
    args = parser.parse_args()
    case = next((c for c in bench.cases(False) if c[0] == args.case), None)
    if case is None:
        parser.error(f"--case {args.case}: not a case of benchmarks/mitigation.py")
    seeds = parse_seeds(args.seeds)
    exact = bench.exact_values(case[2], case[3])
    print(f"{args.case}, level 2, default_shots {args.shots}, seeds {seeds[0]}..{seeds[-1]}")
    print(f"{'side':<22}{'seeds':>6}   corr 1-3 1-5 3-5     own     actual  indep.   p")
    report("qrt", qrt_side(case, args.shots, seeds), exact, args.permutations)
    if not args.no_ibm:
        cache = Path(args.ibm_cache) if args.ibm_cache else None
        for seeding in ("same", "distinct") if args.ibm_seeding == "both" else (args.ibm_seeding,):
            rows = ibm_side(case, args.shots, seeds, seeding, cache)
            report(f"ibm ({seeding} seeds)", rows, exact, args.permutations)


if __name__ == "__main__":
    main()
