"""Where level 2's accuracy goes, stage by stage, qrt_runner against IBM, from a ``mitigation.py --json`` file.

Run it with ``.venv/bin/python benchmarks/zne_stages.py PAIRS.json`` (written by
``benchmarks/mitigation.py --json PAIRS.json``). Both sides ran the same ISA circuit with the
same seed; per family and pair (seed x case) it compares, as the median over pairs of the mean
|exact - value| over the observables (95% bootstrap interval of the ratio qrt / IBM over seeds):

* ``raw``: level 0.
* ``factor 1``: level 2's values at noise factor 1 (gate and measurement twirling and TREX, no
  extrapolation): what twirling and readout mitigation leave.
* ``level 2``: what each side reports.
* ``rule X on Y's data``: each side's per-noise-factor values (per observable) extrapolated with
  one rule: ``qrt`` (:func:`qrt_runner.mitigation.extrapolation.extrapolate`, exponential then
  linear, its ``uncertainty`` choice, clipped to the bound 1 that every observable of the families
  has) or ``IBM`` (qiskit-mitigation's own extrapolation function, exponential then linear). The
  same rule on both sides' data separates what the data (folding, twirling, TREX and the
  simulated noise) contribute from what the extrapolation rule contributes.
"""

from __future__ import annotations

import argparse
import json
import warnings
from pathlib import Path

import numpy as np

import paired_stats as ps

FACTORS = (1.0, 3.0, 5.0)
EXTRAPOLATORS = ("exponential", "linear")


def qrt_rule(y: np.ndarray, sigma: np.ndarray) -> float:
    from qrt_runner.mitigation.extrapolation import extrapolate

    best, _ = extrapolate(EXTRAPOLATORS, FACTORS, y, sigma, 1.0, choice="uncertainty")
    return float(best.values[0])


def ibm_rule(y: np.ndarray, sigma: np.ndarray) -> float:
    # IBM's own function (not re-implemented, so that the comparison is with what IBM runs)
    from qiskit_mitigation.zne.extrapolation import _process_extrapolated_expectation_values

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(_process_extrapolated_expectation_values(y, sigma, "Z", FACTORS, list(EXTRAPOLATORS))[0])


RULES = {"qrt": qrt_rule, "IBM": ibm_rule}


def stage_errors(row: dict, side: str) -> dict[str, float]:
    exact = np.asarray(row["exact"])
    factors = np.asarray(row[f"{side}_level2"]["factors"])  # (observables, noise factors, value and std)
    out = {
        "raw": row[f"{side}_level0"]["error"],
        "factor 1": float(np.mean(np.abs(exact - factors[:, 0, 0]))),
        "level 2": row[f"{side}_level2"]["error"],
    }
    for name, rule in RULES.items():
        values = np.array([rule(f[:, 0], f[:, 1]) for f in factors])
        out[f"rule {name}"] = float(np.mean(np.abs(exact - values)))
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pairs", help="JSON file written by benchmarks/mitigation.py --json")
    args = parser.parse_args()
    rows = json.loads(Path(args.pairs).read_text())
    for family, family_rows in rows.items():
        seeds = sorted({row["seed"] for row in family_rows})
        stages = {
            side: [[stage_errors(r, side) for r in family_rows if r["seed"] == s] for s in seeds]
            for side in ("qrt", "ibm")
        }
        print(f"\n{family}: {len(seeds)} seeds x {len(stages['qrt'][0])} cases")
        print(
            f"  {'stage':<16}{'qrt median':>11}{'IBM median':>11}   ratio qrt / IBM [95%]   pairs qrt wins/ties/losses"
        )
        for stage in stages["qrt"][0][0]:
            q = np.array([[cell[stage] for cell in seed] for seed in stages["qrt"]])
            i = np.array([[cell[stage] for cell in seed] for seed in stages["ibm"]])
            ratio = ps.ratio_of_medians(q, i)
            won, tied, lost = ps.wins(q, i)
            print(f"  {stage:<16}{np.median(q):>11.4f}{np.median(i):>11.4f}   {ratio.text(2):<22}  {won}/{tied}/{lost}")


if __name__ == "__main__":
    main()
