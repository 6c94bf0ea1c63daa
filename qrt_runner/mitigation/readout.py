"""Readout-error mitigation for the Sampler: quasi-probabilities from per-qubit calibration.

Each measured qubit has a 2x2 confusion matrix C[read, prepared], learned from two calibration
circuits (all qubits prepared in |0>, then all in |1>). The full confusion matrix is their tensor
product; as M3 does, it is only ever built on the bitstrings that were actually observed (columns
renormalised on that subspace), so 20+ measured qubits cost what the distinct outcomes cost, never
2^n x 2^n.
"""

from __future__ import annotations

import numpy as np

_DENSE_LIMIT = 6000


def confusion_matrices(
    zeros: tuple[np.ndarray, np.ndarray], ones: tuple[np.ndarray, np.ndarray], positions: list[int]
) -> np.ndarray:
    """Per measured bit, ``C[read, prepared]`` from calibration outcomes (int outcomes, counts).

    Args:
        zeros, ones: outcomes and counts of the all-|0> and all-|1> calibration circuits.
        positions: the bit of the outcome that carries each measured qubit.
    """
    matrices = np.zeros((len(positions), 2, 2))
    for prepared, (outcomes, counts) in enumerate((zeros, ones)):
        total = counts.sum()
        for index, position in enumerate(positions):
            read_one = counts[(outcomes >> position) & 1 == 1].sum() / total
            matrices[index, :, prepared] = (1 - read_one, read_one)
    return matrices


def mitigate(
    outcomes: np.ndarray, counts: np.ndarray, matrices: np.ndarray, positions: list[int]
) -> tuple[np.ndarray, np.ndarray]:
    """Quasi-probabilities of the observed ``outcomes`` with readout errors undone.

    Solves ``A x = p`` where ``A[s', s] = prod_i C_i[bit_i(s'), bit_i(s)]`` over the observed
    bitstrings only, with each column of ``A`` renormalised to sum to 1 on that subspace.

    Returns:
        (outcomes, quasi-probabilities); the quasi-probabilities sum to 1 and may be negative.
    """
    probabilities = counts / counts.sum()
    bits = np.stack([(outcomes >> p) & 1 for p in positions], axis=1)  # (n, num_bits)
    size = len(outcomes)
    if size > _DENSE_LIMIT:
        return outcomes, _solve_iteratively(bits, probabilities, matrices)
    log_a = np.zeros((size, size))
    for index in range(bits.shape[1]):
        log_a += np.log(np.maximum(matrices[index][bits[:, index][:, None], bits[:, index][None, :]], 1e-300))
    a = np.exp(log_a)
    a /= a.sum(axis=0, keepdims=True)
    quasi = np.linalg.solve(a, probabilities)
    return outcomes, quasi / quasi.sum()


def _solve_iteratively(bits: np.ndarray, probabilities: np.ndarray, matrices: np.ndarray) -> np.ndarray:
    """GMRES with the subspace matrix applied row block by row block (never stored whole)."""
    from scipy.sparse.linalg import LinearOperator, gmres

    size = len(probabilities)
    block = 512

    def column_sums() -> np.ndarray:
        sums = np.zeros(size)
        for start in range(0, size, block):
            sums += _rows(bits, matrices, start, min(start + block, size)).sum(axis=0)
        return sums

    norms = column_sums()

    def matvec(x):
        y = np.empty(size)
        scaled = x / norms
        for start in range(0, size, block):
            stop = min(start + block, size)
            y[start:stop] = _rows(bits, matrices, start, stop) @ scaled
        return y

    quasi, _ = gmres(LinearOperator((size, size), matvec=matvec), probabilities, rtol=1e-8, maxiter=200)
    return quasi / quasi.sum()


def _rows(bits: np.ndarray, matrices: np.ndarray, start: int, stop: int) -> np.ndarray:
    log_rows = np.zeros((stop - start, len(bits)))
    for index in range(bits.shape[1]):
        log_rows += np.log(
            np.maximum(matrices[index][bits[start:stop, index][:, None], bits[:, index][None, :]], 1e-300)
        )
    return np.exp(log_rows)
