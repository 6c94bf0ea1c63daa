"""Fitting a sparse Pauli-Lindblad model to learned fidelities (after van den Berg et al., Nat. Phys. 2023).

A layer G of self-inverse two-qubit Cliffords, noisy as ``Lambda o G`` with a Pauli channel
Lambda, repeated ``2 d`` times maps a Pauli P prepared at the start onto itself with the
factor ``(f_P f_P')**d``, ``P' = G P G^dagger``: per layer pair the product of two Pauli
fidelities (the *pair fidelity*), free of state preparation and measurement errors (they only
scale the whole decay). Only such products can be learned without SPAM; the single fidelities of
a pair ``P != P'`` are taken equal (the paper's symmetry assumption). The model's generators are
the weight-1 Paulis of the layer's qubits and the weight-2 Paulis of its coupling edges; a
Pauli Q then has fidelity ``exp(-2 sum of r_k over the generators that anticommute with Q)``,
and the rates ``r_k >= 0`` are the non-negative least-squares solution of the log fidelities.
Error bars are the linear fit's (the pair fidelities' errors propagated), or the spread of refits
with pair fidelities drawn from their errors where the bound at zero makes that wider. A decay
that cannot be fitted is refused in one line (ConfigError), never replaced by another number.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import product

import numpy as np

from qrt_runner.errors import ConfigError
from qrt_runner.mitigation.layer_noise import anticommutes

_LETTERS = "IXYZ"
BOOTSTRAP_DRAWS = 200
#: A pair fidelity whose decay fit leaves it less certain than this is refused, not used.
MAX_FIDELITY_STD = 0.5


def model_labels(num_qubits: int, edges: list[tuple[int, int]]) -> list[str]:
    """Weight-1 Paulis of every qubit and weight-2 Paulis of every edge (compact qubits; the last
    letter of a label acts on qubit 0): the generators, and the Paulis whose fidelities are learned."""
    labels = []
    for qubit in range(num_qubits):
        for letter in "XYZ":
            labels.append(_place({qubit: letter}, num_qubits))
    for a, b in edges:
        for la, lb in product("XYZ", repeat=2):
            labels.append(_place({a: la, b: lb}, num_qubits))
    return labels


def _place(letters: dict[int, str], num_qubits: int) -> str:
    return "".join(letters.get(q, "I") for q in reversed(range(num_qubits)))


def conjugate_label(label: str, gates: tuple[tuple[str, int, int], ...]) -> str:
    """``G P G^dagger`` (up to sign) of the Pauli ``label`` through the layer's ``gates`` (compact qubits)."""
    from qrt_runner.mitigation.twirling import conjugate

    width = len(label)
    letters = [_LETTERS.index(label[width - 1 - q]) for q in range(width)]
    for name, q0, q1 in gates:
        letters[q0], letters[q1] = conjugate(name, letters[q0], letters[q1])
    return "".join(_LETTERS[letters[q]] for q in reversed(range(width)))


def fit_decay(
    depths: np.ndarray, values: np.ndarray, stds: np.ndarray, what: str = "a Pauli"
) -> tuple[float, float, float, float]:
    """Weighted fit of ``A lam**d`` to expectation values at pair depths: ``(lam, lam_std, A, chi2/dof)``.

    Raises:
        ConfigError: when the decay of ``what`` cannot be fitted (no convergence, an amplitude
            not clearly above zero, or ``lam``'s standard deviation above ``MAX_FIDELITY_STD``):
            no number stands in for a fit that failed.
    """
    import warnings

    from scipy.optimize import OptimizeWarning, curve_fit

    sigma = np.maximum(stds, 1e-9)
    positive = values > 0
    if positive.sum() >= 2:
        slope, intercept = np.polyfit(depths[positive], np.log(values[positive]), 1)
        start = [float(np.exp(intercept)), float(np.exp(slope))]
    else:
        start = [1.0, 0.5]
    try:
        with warnings.catch_warnings():  # a covariance that cannot be estimated is infinite: refused below
            warnings.simplefilter("ignore", OptimizeWarning)
            params, cov = curve_fit(
                lambda d, a, lam: a * np.power(np.abs(lam), d),
                depths,
                values,
                p0=start,
                sigma=sigma,
                absolute_sigma=True,
            )
    except (RuntimeError, ValueError) as exc:
        raise _unfitted(what, depths, "the fit did not converge") from exc
    amplitude, lam = float(params[0]), abs(float(params[1]))
    amplitude_std, lam_std = (float(np.sqrt(v)) if np.isfinite(v) and v >= 0 else np.inf for v in np.diag(cov))
    if not amplitude > 2 * amplitude_std:
        raise _unfitted(what, depths, f"its amplitude {amplitude:.3g} +- {amplitude_std:.3g} is not above zero")
    if not lam_std <= MAX_FIDELITY_STD:
        raise _unfitted(what, depths, f"its pair fidelity {lam:.3g} +- {lam_std:.3g} is undetermined")
    residual = (values - amplitude * lam**depths) / sigma
    dof = max(len(depths) - 2, 1)
    return lam, lam_std, amplitude, float(residual @ residual / dof)


def _unfitted(what: str, depths: np.ndarray, problem: str) -> ConfigError:
    return ConfigError(
        "layer_pair_depths",
        [int(d) for d in depths],
        f"the decay of {what} cannot be fitted ({problem})",
        "use shorter layer_pair_depths, or more shots (num_randomizations, shots_per_randomization)",
    )


@dataclass(frozen=True)
class SparseFit:
    """The fitted model: generator labels, rates and their standard deviations, and per learned
    Pauli the residual of the model's log pair fidelity in units of its error."""

    labels: tuple[str, ...]
    rates: tuple[float, ...]
    rates_std: tuple[float, ...]
    residuals: dict[str, float]


def _system(
    labels: list[str], partners: dict[str, str], pair_fidelity: dict[str, float]
) -> tuple[np.ndarray, list[str], list[float]]:
    """Rows (learned Paulis x generators) and the factor turning ``-log lam`` into each row's target.

    A Pauli fixed by the layer, or whose partner is learned too, gets its own fidelity
    ``sqrt(lam)`` (target ``-log(lam) / 4``); one whose partner lies outside the model keeps the
    product (both rows added, target ``-log(lam) / 2``)."""
    rows, names, factors = [], [], []
    learned = set(labels)
    for label in labels:
        if label not in pair_fidelity:
            continue
        partner = partners[label]
        row = np.array([anticommutes(label, g) for g in labels], dtype=float)
        if partner in learned:
            factors.append(0.25)
        else:
            row = row + np.array([anticommutes(partner, g) for g in labels], dtype=float)
            factors.append(0.5)
        rows.append(row)
        names.append(label)
    return np.array(rows), names, factors


def solve_rates(
    labels: list[str], partners: dict[str, str], pair_fidelity: dict[str, float], pair_std: dict[str, float]
) -> SparseFit:
    """Non-negative rates of the generators ``labels`` from the learned pair fidelities (see the module)."""
    from scipy.optimize import nnls

    matrix, names, factors = _system(labels, partners, pair_fidelity)
    lam = np.array([pair_fidelity[n] for n in names])
    sigma = np.array([max(pair_std.get(n, 0.0), 1e-9) for n in names])
    factor = np.array(factors)

    weight = 1.0 / (factor * sigma / np.clip(lam, 1e-12, None))  # 1 / std of each row's target

    def fit(values: np.ndarray) -> np.ndarray:
        target = -np.log(np.clip(values, 1e-12, None)) * factor
        rates, _ = nnls(matrix * weight[:, None], target * weight)
        return rates

    rates = fit(lam)
    stds = np.zeros_like(rates)
    if pair_std:  # the linear fit's errors, or the refits' spread where the bound makes it wider
        linear = np.sqrt(np.sum(np.linalg.pinv(matrix * weight[:, None]) ** 2, axis=1))
        rng = np.random.default_rng(12345)
        draws = np.array([fit(lam + rng.normal(0.0, sigma)) for _ in range(BOOTSTRAP_DRAWS)])
        stds = np.maximum(linear, draws.std(axis=0))
    predicted = np.exp(-(matrix @ rates) / factor)
    residuals = {n: float(r) for n, r in zip(names, (lam - predicted) / sigma)}
    return SparseFit(tuple(labels), tuple(float(r) for r in rates), tuple(float(s) for s in stds), residuals)


def model_fidelity(label: str, labels: tuple[str, ...], rates: tuple[float, ...]) -> float:
    """A Pauli's fidelity under the model with generators ``labels`` and ``rates``."""
    return float(np.exp(-2 * sum(r for g, r in zip(labels, rates) if anticommutes(label, g))))


def learnable_projection(
    labels: list[str], partners: dict[str, str], true_labels: tuple[str, ...], true_rates: tuple[float, ...]
) -> tuple[dict[str, float], tuple[float, ...]]:
    """What a noiseless learning of a known model gives: its pair fidelities of the learned
    Paulis, and the rates fitted from them (the symmetry assumption applied to the true model)."""
    pairs = {
        label: model_fidelity(label, true_labels, true_rates) * model_fidelity(partners[label], true_labels, true_rates)
        for label in labels
    }
    return pairs, solve_rates(labels, partners, pairs, {}).rates
