"""What bounds level 2's accuracy on the generated families: the extrapolation's bias, or shot noise.

Run it with ``.venv/bin/python benchmarks/zne_floor.py`` (``--families qaoa,trotter``, ``--seeds 5``,
``--twirls 8``, ``--training 12``, ``--reps 20``, ``--shots 8192``). No shots are simulated: every
case of ``circuit_families`` (the ISA circuit of ``benchmarks/mitigation.py``) is folded as level 2
folds it (:func:`qrt_runner.mitigation.folding.fold_gates`) to the noise factors 1-9, and each
Pauli term's noisy expectation value is computed exactly, as a density matrix under the fake
device's noise (Aer's ``NoiseModel.from_backend`` without readout error, which TREX removes)
averaged over ``--twirls`` Pauli twirls of the two-qubit gates. Medians over cases of the mean
|exact - value| over a case's observables:

* ``raw``: the noisy values at factor 1.
* ``ZNE exact``: qrt_runner's extrapolation (exponential then linear, ``uncertainty`` choice) of
  the exact values at 1, 3, 5: the bias of level 2 with infinitely many shots.
* ``CDR exact``: Clifford data regression, the candidate that brings information ZNE lacks: per
  term, ideal = a * noisy + b fitted over ``--training`` near-Clifford copies of the circuit (each
  non-Clifford ``rz`` replaced by a Clifford one drawn near its angle, a fifth of them kept), with
  exact training data.
* ``ZNE shots``: the same extrapolation of the exact values plus Gaussian shot noise at IBM's
  total (``--shots`` per factor), for IBM's split (1, 3, 5, equal shots), qrt_runner's default
  (1, 3, 5, shots as 1/sqrt(factor)) and the design with the least Cramer-Rao bound below; the
  terms' noises are drawn independently (``--reps`` draws per case).
* ``CRB best``: over a grid of noise factors (1, m, 2m - 1 and 1, m) and shares of the shots at
  factor 1, the design whose median Cramer-Rao bound on the zero-noise value of A * u^factor
  (each term's A and u from its exact values at 1 and 5) is least, as the ratio of that bound's
  standard error to the bound of IBM's design: no unbiased estimator on any of these designs does
  better than it.

Where ``ZNE exact`` is far below ``ZNE shots``, both sides' level 2 sits at the shot-noise floor of
the same information, and only new information (or more shots) can beat IBM by much.
"""

from __future__ import annotations

import argparse
import warnings

import numpy as np

from circuit_families import family_cases
from estimator_runners import isa_case

FACTORS = (1, 2, 3, 4, 5, 7, 9)
IBM_DESIGN = ((1, 3, 5), (1, 1, 1))
QRT_DESIGN = ((1, 3, 5), (1, 3**-0.5, 5**-0.5))
KEPT_NON_CLIFFORD = 0.2


def _unmeasured(circuit):
    out = circuit.copy_empty_like()
    for instruction in circuit.data:
        if instruction.operation.name not in ("measure", "barrier"):
            out.append(instruction)
    return out


def _noisy(circuit, paulis, simulator, twirls: int, seed: int) -> np.ndarray:
    """Twirl-averaged exact noisy expectation value of every Pauli."""
    from qiskit.circuit import pauli_twirl_2q_gates

    twirled = pauli_twirl_2q_gates(circuit, seed=seed, num_twirls=twirls)
    for copy in twirled:
        copy.save_density_matrix()
    result = simulator.run(twirled).result()
    values = [[result.data(i)["density_matrix"].expectation_value(p).real for p in paulis] for i in range(twirls)]
    return np.mean(values, axis=0)


def _near_clifford(circuit, rng: np.random.Generator):
    """A copy whose non-Clifford ``rz`` are replaced by multiples of pi/2 drawn near their angle,
    but for a random fifth of them."""
    slots = [
        i
        for i, inst in enumerate(circuit.data)
        if inst.operation.name == "rz" and abs(np.sin(2 * float(inst.operation.params[0]))) > 1e-9
    ]
    kept = (
        set(rng.choice(slots, size=round(KEPT_NON_CLIFFORD * len(slots)), replace=False).tolist()) if slots else set()
    )
    out = circuit.copy_empty_like()
    quarter = np.arange(4) * np.pi / 2
    for index, instruction in enumerate(circuit.data):
        if index in slots and index not in kept:
            distance = np.abs(np.angle(np.exp(1j * (quarter - float(instruction.operation.params[0])))))
            weights = np.exp(-((distance / 0.5) ** 2))
            out.rz(float(quarter[rng.choice(4, p=weights / weights.sum())]), instruction.qubits[0])
        else:
            out.append(instruction)
    return out


def exact_data(case, twirls: int, training: int, seed: int) -> dict:
    """The case's terms, their ideal values and exact noisy values at every factor, and the
    near-Clifford training pairs (ideal, noisy at factor 1)."""
    from qiskit.quantum_info import Pauli, Statevector
    from qiskit_aer import AerSimulator
    from qiskit_aer.noise import NoiseModel

    from qrt_runner.execution.fake_backends import fake_backend
    from qrt_runner.mitigation.folding import fold_gates

    noise = NoiseModel.from_backend(fake_backend(case.device), readout_error=False)
    simulator = AerSimulator(method="density_matrix", noise_model=noise, max_parallel_threads=2)
    isa, observables = isa_case(case.device, case.circuit, case.observables)
    isa = _unmeasured(isa)
    labels = sorted({label for op in observables for label, _ in op.to_list() if set(label) != {"I"}})
    paulis = [Pauli(label) for label in labels]

    def ideal(circuit):
        state = Statevector(circuit)
        return np.array([state.expectation_value(p).real for p in paulis])

    noisy = np.array(
        [_noisy(fold_gates(isa, f, "gate_folding", seed), paulis, simulator, twirls, seed) for f in FACTORS]
    )
    rng = np.random.default_rng(seed)
    copies = [_near_clifford(isa, rng) for _ in range(training)]
    pairs = [(ideal(c), _noisy(c, paulis, simulator, max(2, twirls // 2), seed)) for c in copies]
    return {
        "labels": labels,
        "observables": [op.to_list() for op in observables],
        "exact": case.exact,
        "noisy": noisy,
        "training": pairs,
    }


def _observable_error(data: dict, term_values: dict) -> float:
    values = [
        sum(c.real * (term_values[label] if set(label) != {"I"} else 1.0) for label, c in op)
        for op in data["observables"]
    ]
    return float(np.mean(np.abs(np.array(values) - data["exact"])))


def _extrapolated(factors, values, stds) -> float:
    from qrt_runner.mitigation.extrapolation import extrapolate

    chosen, _ = extrapolate(
        ("exponential", "linear"), np.asarray(factors, float), values, stds, 1.0, choice="uncertainty"
    )
    return float(np.clip(chosen.values[0], -1.0, 1.0))


def _design_data(data: dict, design, shots: int):
    factors, weights = design
    rows = [FACTORS.index(f) for f in factors]
    shares = len(factors) * np.asarray(weights) / np.sum(weights)
    values = data["noisy"][rows]
    stds = np.sqrt(np.clip(1 - values**2, 1e-4, None) / (shots * shares[:, None]))
    return factors, values, stds


def zne_error(data: dict, design, shots: int, rng: np.random.Generator | None) -> float:
    """The case's error after extrapolating each term (with shot noise drawn by ``rng``, or exact)."""
    factors, values, stds = _design_data(data, design, shots)
    if rng is not None:
        values = values + rng.normal(size=values.shape) * stds
    terms = {label: _extrapolated(factors, values[:, j], stds[:, j]) for j, label in enumerate(data["labels"])}
    return _observable_error(data, terms)


def cdr_error(data: dict) -> float:
    terms = {}
    for j, label in enumerate(data["labels"]):
        ideal = np.array([pair[0][j] for pair in data["training"]])
        noisy = np.array([pair[1][j] for pair in data["training"]])
        slope, intercept = np.linalg.lstsq(np.vstack([noisy, np.ones_like(noisy)]).T, ideal, rcond=None)[0]
        terms[label] = float(np.clip(slope * data["noisy"][0, j] + intercept, -1.0, 1.0))
    return _observable_error(data, terms)


def _crb(amplitude: float, decay: float, design, shots: int) -> float:
    """Cramer-Rao variance of the amplitude of amplitude * decay^factor under ``design``."""
    factors, weights = design
    lam = np.asarray(factors, float)
    shares = len(lam) * np.asarray(weights) / np.sum(weights)
    y = amplitude * decay**lam
    variance = np.clip(1 - y**2, 1e-6, None) / (shots * shares)
    jacobian = np.vstack([decay**lam, amplitude * lam * decay ** (lam - 1)]).T
    return float(np.linalg.inv(jacobian.T @ (jacobian / variance[:, None]))[0, 0])


def _designs():
    for m in (2, 3, 4, 5):
        for share in (1 / 3, 0.5, 0.6, 0.7):
            yield ((1, m, 2 * m - 1), (share, (1 - share) / 2, (1 - share) / 2))
            yield ((1, 2 * m - 1), (share, 1 - share))


def best_design(cases: list[dict], shots: int):
    """The grid design with the least median Cramer-Rao ratio to IBM's, and that ratio."""
    terms = []
    for data in cases:
        y1, y5 = data["noisy"][FACTORS.index(1)], data["noisy"][FACTORS.index(5)]
        for a, b in zip(y1, y5):
            if abs(a) > 0.05 and b / a > 1e-3:  # a term with signal left at factor 5
                decay = (b / a) ** 0.25
                terms.append((a / decay, decay, _crb(a / decay, decay, IBM_DESIGN, shots)))

    def ratio(design):
        return float(np.median([np.sqrt(_crb(A, u, design, shots) / ibm) for A, u, ibm in terms]))

    scored = [(ratio(design), design) for design in _designs()]
    return min(scored, key=lambda item: item[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--families", default="qaoa,trotter", help="comma-separated families (default qaoa,trotter)")
    parser.add_argument("--seeds", type=int, default=5, help="seeds 1..N (default 5)")
    parser.add_argument("--twirls", type=int, default=8, help="Pauli twirls averaged per circuit (default 8)")
    parser.add_argument(
        "--training", type=int, default=12, help="near-Clifford training circuits per case (default 12)"
    )
    parser.add_argument("--reps", type=int, default=20, help="shot-noise draws per case (default 20)")
    parser.add_argument("--shots", type=int, default=8192, help="shots per noise factor on IBM's split (default 8192)")
    args = parser.parse_args()
    warnings.filterwarnings("ignore", category=RuntimeWarning)

    print(
        f"seeds 1..{args.seeds}, {args.twirls} twirls, {args.training} training circuits, {args.reps} shot draws, "
        f"{args.shots} shots per factor on IBM's split; medians over cases of the mean |exact - value|\n"
    )
    header = f"{'family':<9}{'cases':>6}{'raw':>8}{'ZNE exact':>10}{'CDR exact':>10}{'shots IBM':>10}{'shots qrt':>10}"
    print(header + f"{'shots best':>11}{'CRB best':>9}  best design")
    for family in args.families.split(","):
        cases = [
            exact_data(case, args.twirls, args.training, seed)
            for seed in range(1, args.seeds + 1)
            for case in family_cases(family, seed)
        ]
        ratio, design = best_design(cases, args.shots)
        rng = np.random.default_rng(0)
        raw = np.median([_observable_error(d, dict(zip(d["labels"], d["noisy"][0]))) for d in cases])
        exact = np.median([zne_error(d, QRT_DESIGN, args.shots, None) for d in cases])
        cdr = np.median([cdr_error(d) for d in cases])
        noisy = {
            name: np.median([zne_error(d, chosen, args.shots, rng) for d in cases for _ in range(args.reps)])
            for name, chosen in (("ibm", IBM_DESIGN), ("qrt", QRT_DESIGN), ("best", design))
        }
        shares = "/".join(f"{w / sum(design[1]):.2f}" for w in design[1])
        print(
            f"{family:<9}{len(cases):>6}{raw:>8.4f}{exact:>10.4f}{cdr:>10.4f}{noisy['ibm']:>10.4f}{noisy['qrt']:>10.4f}"
            f"{noisy['best']:>11.4f}{ratio:>9.2f}  factors {design[0]}, shares {shares}",
            flush=True,
        )


if __name__ == "__main__":
    main()
