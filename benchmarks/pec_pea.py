"""PEC and PEA on noisy fake backends: error, standard error, sampling overhead and wall time.

Run it with ``.venv/bin/python benchmarks/pec_pea.py`` (``--seeds N``, ``--precision P``,
``--cases ghz5,mirror5``). qrt_runner only: IBM's client-side Estimator cannot learn a layer noise
model locally, so it runs PEC and PEA only with a model the user brings. The cases and exact
values are those of ``benchmarks/mitigation.py``; raw (level 0) and level 2 run alongside with
the same shots and seeds. PEC and PEA use the fake device's own layer noise model and one shot
per randomisation (their defaults); PEC's shots grow by its sampling overhead.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from mitigation import cases, exact_values

TECHNIQUES = {"level0": "none", "level2": "level2", "pec": "pec", "pea": "pea"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3, help="seeds 1..N (default 3)")
    parser.add_argument("--precision", type=float, default=1 / 64)
    parser.add_argument("--cases", default="ghz5,ising5,mirror5", help="comma-separated case names")
    args = parser.parse_args()

    from qrt_runner.backend import LocalBackend
    from qrt_runner.config.compose import compose_spec
    from qrt_runner.mitigation.options import finalize
    from qrt_runner.primitives.estimator import Estimator, EstimatorOptions

    wanted = args.cases.split(",")
    chosen = [case for case in cases(quick=False) if case[0] in wanted]
    print(f"precision 1/{round(1 / args.precision)}, seeds 1..{args.seeds}, medians over seeds; qrt_runner only\n")
    print(f"{'case':<9}{'technique':<10}{'|ex-mit|':>9}{'ratio':>7}{'std':>8}{'overhead':>9}{'wall s':>8}")
    for name, device, circuit, observables in chosen:
        exact = exact_values(circuit, observables)
        backend = LocalBackend.create(device, threads=2)
        rows = {}
        for technique, preset in TECHNIQUES.items():
            mitigation = finalize(compose_spec([f"mitigation={preset}", f"backend={device}"]).mitigation)
            for seed in range(1, args.seeds + 1):
                backend.seed_simulator, backend.jobs_submitted = seed, 0
                estimator = Estimator(backend, options=EstimatorOptions(default_precision=args.precision, mitigation=mitigation))
                start = time.perf_counter()
                result = estimator.run([(circuit, observables)]).result()[0]
                wall = time.perf_counter() - start
                overhead = (result.metadata.get("mitigation", {}).get("pec") or {}).get("sampling_overhead", 1.0)
                error = float(np.mean(np.abs(result.data.evs - exact)))
                rows.setdefault(technique, []).append((error, float(np.mean(result.data.stds)), overhead, wall))
        raw = np.median([r[0] for r in rows["level0"]])
        for technique, values in rows.items():
            error, std, overhead, wall = (np.median([v[i] for v in values]) for i in range(4))
            ratio = "" if technique == "level0" else f"{raw / max(error, 1e-12):.1f}x"
            print(f"{name:<9}{technique:<10}{error:>9.4f}{ratio:>7}{std:>8.4f}{overhead:>9.2f}{wall:>8.2f}")


if __name__ == "__main__":
    main()
