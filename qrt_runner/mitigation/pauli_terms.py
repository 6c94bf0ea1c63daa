"""Pauli-term statistics from measured outcomes: means and covariances, flips undone.

A measurement circuit records in ``metadata["qrt_measured_qubits"]`` the qubits it measures and in
``metadata["qrt_clbits"]`` the outcome bit of each; PEC circuits add ``qrt_sign_clbit``, the bit
carrying each shot's sign. Outcomes are integers as Aer reports them (bit i = clbit i).
"""

from __future__ import annotations

import numpy as np
from qiskit import QuantumCircuit


def parity_mask(label: str, circuit: QuantumCircuit) -> int:
    """Bits of the outcome (as Aer reports it, over all clbits) that carry ``label``'s parity."""
    mask = 0
    for qubit, position in zip(circuit.metadata["qrt_measured_qubits"], circuit.metadata["qrt_clbits"]):
        if label[len(label) - 1 - qubit] != "I":
            mask |= 1 << position
    return mask


def popcount(values: np.ndarray) -> np.ndarray:
    if hasattr(np, "bitwise_count"):
        return np.bitwise_count(values)
    return np.vectorize(lambda v: bin(v).count("1"))(values)


def shot_values(
    rows: list[tuple[np.ndarray, np.ndarray]],
    flips: np.ndarray,
    circuit: QuantumCircuit,
    masks: np.ndarray,
    gamma: float = 1.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Per distinct outcome of the rows (one row per randomisation), each Pauli's value +-1 with
    the measurement flips undone (times the shot's sign and ``gamma`` for PEC), and its count.

    Returns:
        ``(values (outcomes, paulis), weights (outcomes,))``.
    """
    measured, positions = circuit.metadata["qrt_measured_qubits"], circuit.metadata["qrt_clbits"]
    flip_bits = (flips[:, measured].astype(np.int64) << np.asarray(positions, dtype=np.int64)).sum(axis=1)
    outcomes = np.concatenate([outcome for outcome, _ in rows])
    weights = np.concatenate([counts for _, counts in rows]).astype(float)
    row_of = np.repeat(np.arange(len(rows)), [len(outcome) for outcome, _ in rows])
    parity = popcount((outcomes ^ flip_bits[row_of])[:, None] & masks[None, :]) & 1
    values = 1.0 - 2.0 * parity
    sign_clbit = circuit.metadata.get("qrt_sign_clbit")
    if sign_clbit is not None:
        values *= (gamma * (1.0 - 2.0 * ((outcomes >> sign_clbit) & 1)))[:, None]
    return values, weights


def between_randomizations(
    values: np.ndarray, weights: np.ndarray, lengths: list[int]
) -> tuple[np.ndarray, np.ndarray]:
    """How much the randomisations' own means spread beyond their shot noise, per Pauli.

    ``values``/``weights`` as :func:`shot_values` returns them for several rows (randomisations)
    of ``lengths`` distinct outcomes each. Returns ``(excess, shot_variance)``: the sample variance
    of the randomisations' means less the part their shots explain (an unbiased estimate of the
    variance between randomisations, which may come out negative), and the mean variance of one
    shot within a randomisation. Zeros with fewer than two randomisations."""
    count = len(lengths)
    if count < 2:
        return np.zeros(values.shape[1]), np.zeros(values.shape[1])
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.intp)
    shots = np.add.reduceat(weights, starts)
    first = np.add.reduceat(values * weights[:, None], starts) / shots[:, None]
    second = np.add.reduceat(values**2 * weights[:, None], starts) / shots[:, None]
    within = (second - first**2) * (shots / np.maximum(shots - 1, 1))[:, None]  # per shot, per randomisation
    excess = first.var(axis=0, ddof=1) - np.mean(within / shots[:, None], axis=0)
    return excess, within.mean(axis=0)


def design_effect(excess: float, within: float, shots: int) -> float:
    """What the covariance of pooled shots is multiplied by for the variance of a mean over
    randomisations of ``shots`` shots each, given the summed :func:`between_randomizations`
    (``excess`` between randomisations, ``within`` one shot's variance, pooled over Paulis):
    with rho = excess / within, (1 + shots rho) / (1 + rho) (the pooled shots' variance already
    holds the spread once). Negative estimates count as no spread."""
    rho = max(excess / within, 0.0) if within > 0 else 0.0
    return float((1.0 + shots * rho) / (1.0 + rho))


def mean_and_covariance(values: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The mean of each column over the weighted shots and the covariance of those means."""
    total = weights.sum()
    mean = weights @ values / total
    centred = values - mean
    if total <= 1:
        return mean, np.zeros((values.shape[1], values.shape[1]))
    return mean, (centred * weights[:, None]).T @ centred / total / (total - 1)
