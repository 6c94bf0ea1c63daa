"""Learned layer noise against the noise actually simulated, and PEC/PEA with it against the derived model.

Run it with ``.venv/bin/python benchmarks/noise_learning.py`` (``--cases ghz5,ising5,mirror5``,
``--seeds N`` (default 3), ``--precision P`` (default 1/64), ``--randomizations R`` and
``--shots-per-randomization S`` (default IBM's 32 and 128), ``--out DIR`` for the plots, default
``outputs/noise_learning``). The cases are those of ``benchmarks/pec_pea.py`` (fixed_cases.py).

Part 1, per unique layer of each case's ISA circuit (plain twirl, as the estimator's default): the
layer is learned with IBM's protocol (pair depths 0, 1, 2, 4, 16, 32; nine bases) in the
simulator, and compared with the derived model (the device's own twirled gate errors, which is
the noise simulated). ``pair |z|max``: the largest |learned - simulated| / std over the learned
pair fidelities f_P f_P' (what learning without SPAM errors can know); ``rate |z|max`` and
``rate rel``: the same for the rates against the derived model's learnable projection (its
fidelities under the symmetry assumption of degenerate pairs; relative error over the rates above
a fifth of the largest); ``raw rel``: the relative error against the derived rates themselves (it
shows the gauge the symmetry assumption picks, not an error of the learning); ``within``: every
|z| below 3. One PNG per layer (learned rates with error bars, the projection, the raw derived
rates) goes to ``--out``.

Part 2, per case and technique (PEC, PEA): the median over seeds of |ex-mit| (mean over the
observables of |exact - mitigated|, exact from Statevector) with the derived and the learned
model, and their median standard errors. The learning runs once per process (the layers of
part 1 are reused; the learning's wall time is part 1's).
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np

from fixed_cases import cases, exact_values


def learn_case(device, circuit, options, seed, out: Path, name: str) -> list[dict]:
    """Learn every unique layer of the case's ISA circuit; compare, plot; one row per layer."""
    from qrt_runner.execution.backend import LocalBackend
    from qrt_runner.mitigation.layer_noise import DeviceLayerNoise
    from qrt_runner.mitigation.noise_learning import learned
    from qrt_runner.mitigation.noise_learning_cost import layers_to_learn
    from qrt_runner.mitigation.noise_learning_fit import conjugate_label, learnable_projection

    backend = LocalBackend.create(device, threads=1)
    isa = backend.compiler.compile(circuit)
    layers, _ = layers_to_learn(isa.circuit, isa.physical_qubits, "active-accum", False, None)
    rows = []
    for number, layer in enumerate(layers):
        started = time.perf_counter()
        result = learned(device, layer, options, seed)
        wall = time.perf_counter() - started
        truth = DeviceLayerNoise(device).model(layer.gates, ())
        labels = list(result.fit.labels)
        partners = {label: conjugate_label(label, layer.compact_gates()) for label in labels}
        pairs, projected = learnable_projection(labels, partners, truth.labels, truth.rates)
        pair_z = [abs(result.pair_fidelities[p][0] - pairs[p]) / result.pair_fidelities[p][1] for p in labels]
        rates, stds, proj = np.array(result.fit.rates), np.array(result.fit.rates_std), np.array(projected)
        rate_z = np.abs(rates - proj) / np.maximum(stds, 1e-12)
        big = proj >= 0.2 * proj.max()
        raw = dict(zip(truth.labels, truth.rates))
        raw_rates = np.array([raw.get(label, 0.0) for label in labels])
        raw_big = raw_rates >= 0.2 * raw_rates.max()
        rows.append(
            {
                "layer": " ".join(f"{g}({a},{b})" for g, a, b in layer.gates),
                "generators": len(labels),
                "pair_z": max(pair_z),
                "rate_z": float(rate_z.max()),
                "rate_rel": float(np.max(np.abs(rates - proj)[big] / proj[big])),
                "raw_rel": float(np.max(np.abs(rates - raw_rates)[raw_big] / raw_rates[raw_big])),
                "within": max(pair_z) < 3 and float(rate_z.max()) < 3,
                "wall": wall,
                "shots": result.shots,
            }
        )
        _plot(out / f"{name}_layer{number}.png", labels, rates, stds, proj, raw_rates, rows[-1]["layer"], device)
    return rows


def _plot(path: Path, labels, rates, stds, projected, raw, title: str, device: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x = np.arange(len(labels))
    fig, ax = plt.subplots(figsize=(max(6, 0.28 * len(labels)), 3.6))
    ax.errorbar(x, rates, yerr=stds, fmt="o", ms=4, capsize=2, label="learned (1 std)")
    ax.plot(x, projected, "s", mfc="none", ms=7, label="simulated (learnable projection)")
    ax.plot(x, raw, "x", ms=6, label="simulated (derived rates)")
    ax.set_xticks(x, labels, rotation=90, fontsize=7)
    ax.set_ylabel("rate")
    ax.set_title(f"{device} {title}: learned vs simulated Pauli-Lindblad rates", fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def mitigate_case(device, circuit, observables, seeds: int, precision: float, learning: list[str]) -> dict:
    """Per (technique, model), rows (|ex-mit|, std) over seeds."""
    from qrt_runner.config.compose import compose_spec
    from qrt_runner.execution.backend import LocalBackend
    from qrt_runner.mitigation.options import finalize
    from qrt_runner.primitives.estimator import Estimator, EstimatorOptions

    exact = exact_values(circuit, observables)
    backend = LocalBackend.create(device, threads=1)
    rows: dict = {}
    for technique in ("pec", "pea"):
        for source in ("device", "learned"):
            overrides = [f"mitigation={technique}", f"backend={device}", f"mitigation.layer_noise.source={source}"]
            mitigation = finalize(compose_spec(overrides + (learning if source == "learned" else [])).mitigation)
            for seed in range(1, seeds + 1):
                backend.seed_simulator, backend.jobs_submitted = 1, seed - 1  # the learning's seed: 1 (part 1)
                estimator = Estimator(
                    backend, options=EstimatorOptions(default_precision=precision, mitigation=mitigation)
                )
                result = estimator.run([(circuit, observables)], precision=precision).result()[0]
                error = float(np.mean(np.abs(result.data.evs - exact)))
                rows.setdefault((technique, source), []).append((error, float(np.mean(result.data.stds))))
    return rows


def main() -> None:
    from qrt_runner.mitigation.noise_learning import LearningOptions

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default="ghz5,ising5,mirror5")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--precision", type=float, default=1 / 64)
    parser.add_argument("--randomizations", type=int, default=32)
    parser.add_argument("--shots-per-randomization", type=int, default=128)
    parser.add_argument("--out", default="outputs/noise_learning")
    args = parser.parse_args()
    options = LearningOptions((0, 1, 2, 4, 16, 32), args.randomizations, args.shots_per_randomization, None)
    learning = [
        f"mitigation.layer_noise.num_randomizations={args.randomizations}",
        f"mitigation.layer_noise.shots_per_randomization={args.shots_per_randomization}",
        "mitigation.layer_noise.max_layers_to_learn=null",
    ]
    out = Path(args.out)
    chosen = [case for case in cases(quick=False) if case[0] in args.cases.split(",")]
    print(
        f"learning: pair depths {list(options.layer_pair_depths)}, {options.num_randomizations} randomisations x "
        f"{options.shots_per_randomization} shots per basis and depth; load average {os.getloadavg()[0]:.2f}\n"
    )
    print("part 1: learned vs simulated rates, per unique layer")
    print(
        f"{'case':<9}{'layer':<22}{'gens':>5}{'pair |z|max':>12}{'rate |z|max':>12}{'rate rel':>9}{'raw rel':>9}"
        f"{'within':>8}{'shots':>10}{'learn s':>9}"
    )
    for name, device, circuit, _ in chosen:
        for row in learn_case(device, circuit, options, 1, out, name):
            print(
                f"{name:<9}{row['layer']:<22}{row['generators']:>5}{row['pair_z']:>12.2f}{row['rate_z']:>12.2f}"
                f"{row['rate_rel']:>9.2f}{row['raw_rel']:>9.2f}{'yes' if row['within'] else 'no':>8}"
                f"{row['shots']:>10,}{row['wall']:>9.2f}",
                flush=True,
            )
    print(f"\nplots: {out.resolve()}/<case>_layer<k>.png\n")
    print(
        f"part 2: mitigated error, derived vs learned model (precision 1/{round(1 / args.precision)}, medians over {args.seeds} seeds)"
    )
    print(
        f"{'case':<9}{'technique':<10}{'|ex-mit| derived':>17}{'|ex-mit| learned':>17}{'std derived':>12}{'std learned':>12}"
    )
    for name, device, circuit, observables in chosen:
        rows = mitigate_case(device, circuit, observables, args.seeds, args.precision, learning)
        for technique in ("pec", "pea"):
            derived, learned_rows = np.array(rows[technique, "device"]), np.array(rows[technique, "learned"])
            print(
                f"{name:<9}{technique:<10}{np.median(derived[:, 0]):>17.4f}{np.median(learned_rows[:, 0]):>17.4f}"
                f"{np.median(derived[:, 1]):>12.4f}{np.median(learned_rows[:, 1]):>12.4f}",
                flush=True,
            )
    print(f"\nload average at the end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
