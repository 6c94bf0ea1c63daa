"""The probability distribution nearest to a quasi-probability distribution.

Readout mitigation returns quasi-probabilities: they sum to 1 but may be negative. The nearest
probability distribution in the Euclidean norm (as mthree's ``nearest_probability_distribution``,
after Smolin, Gambetta and Smith, PRL 108, 070502) is the projection onto the simplex: every
value is lowered by the same amount tau and clipped at zero, with tau chosen so that the result
sums to 1. Unlike clipping the negative values and renormalising, it takes the negative mass
from the values nearest zero, not in proportion from all of them.
"""

from __future__ import annotations

import numpy as np


def nearest_probability(values) -> np.ndarray:
    """The point of the probability simplex nearest to ``values`` (which should sum to 1)."""
    values = np.asarray(values, dtype=float)
    if values.size == 0:
        return values.copy()
    ordered = np.sort(values)[::-1]
    cumulative = np.cumsum(ordered) - 1.0
    ranks = np.arange(1, values.size + 1)
    kept = np.flatnonzero(ordered - cumulative / ranks > 0)[-1]  # the largest rank that stays positive
    tau = cumulative[kept] / (kept + 1)
    return np.clip(values - tau, 0.0, None)


def nearest_probability_dist(quasi: dict[str, float]) -> dict[str, float]:
    """:func:`nearest_probability` of a quasi-distribution keyed by outcome; zeros are dropped."""
    keys = list(quasi)
    projected = nearest_probability([quasi[key] for key in keys])
    return {key: float(p) for key, p in zip(keys, projected) if p > 0}
