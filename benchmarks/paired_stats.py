"""Paired statistics over seeds for ``benchmarks/mitigation.py``: medians, bootstrap intervals on
ratios, wins and losses.

Both sides run every case with the same seed, so a seed's cases form one paired cluster. The
bootstrap resamples whole seeds with replacement (all cases of a drawn seed go together), which
keeps the pairing and the dependence between a seed's cases, and reports the percentile interval
of the statistic (95% by default, 4000 resamples from a fixed generator, so a rerun on the same
data prints the same interval).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

RESAMPLES = 4000
LEVEL = 0.95


@dataclass(frozen=True)
class Interval:
    """A statistic and its bootstrap interval."""

    value: float
    low: float
    high: float

    def text(self, digits: int = 4) -> str:
        return f"{self.value:.{digits}f} [{self.low:.{digits}f}, {self.high:.{digits}f}]"


def bootstrap(
    clusters: np.ndarray,
    statistic: Callable[[np.ndarray], float],
    resamples: int = RESAMPLES,
    level: float = LEVEL,
    seed: int = 0,
) -> Interval:
    """``statistic`` of the rows of ``clusters`` (one row per seed: ``(seeds, ...)``) and its
    percentile interval over resamples of the seeds."""
    clusters = np.asarray(clusters, dtype=float)
    value = float(statistic(clusters))
    if len(clusters) < 2:
        return Interval(value, value, value)
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(clusters), size=(resamples, len(clusters)))
    stats = np.array([statistic(clusters[rows]) for rows in draws], dtype=float)
    stats = stats[np.isfinite(stats)]
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(stats, [tail, 100 - tail]) if stats.size else (np.nan, np.nan)
    return Interval(value, float(low), float(high))


def median_interval(values: np.ndarray) -> Interval:
    """Median of ``values`` ``(seeds, cases)`` over all cases, with its interval."""
    return bootstrap(values, lambda rows: float(np.median(rows)))


def ratio_of_medians(numerator: np.ndarray, denominator: np.ndarray) -> Interval:
    """median(numerator) / median(denominator), both ``(seeds, cases)`` and paired by seed."""
    stacked = np.stack([numerator, denominator], axis=-1)
    return bootstrap(stacked, lambda rows: float(np.median(rows[..., 0]) / max(np.median(rows[..., 1]), 1e-15)))


def median_of_ratios(numerator: np.ndarray, denominator: np.ndarray) -> Interval:
    """Median over the pairs of numerator / denominator (paired by seed and case)."""
    ratios = np.asarray(numerator, dtype=float) / np.maximum(np.asarray(denominator, dtype=float), 1e-15)
    return bootstrap(ratios, lambda rows: float(np.median(rows)))


def wins(ours: np.ndarray, theirs: np.ndarray) -> tuple[int, int, int]:
    """(wins, ties, losses) of ``ours`` against ``theirs`` pair by pair (lower is better)."""
    ours, theirs = np.ravel(ours), np.ravel(theirs)
    return int(np.sum(ours < theirs)), int(np.sum(ours == theirs)), int(np.sum(ours > theirs))


def seed_wins(ours: np.ndarray, theirs: np.ndarray) -> tuple[int, int]:
    """(seeds won, seeds lost) comparing each seed's mean over its cases (lower is better)."""
    a, b = np.mean(ours, axis=1), np.mean(theirs, axis=1)
    return int(np.sum(a < b)), int(np.sum(a > b))
