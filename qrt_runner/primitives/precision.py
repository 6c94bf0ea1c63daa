"""Shots for a target precision: IBM's rule, shared by the primitives and the config."""

from __future__ import annotations

import math

__all__ = ["shots_for_precision"]


def shots_for_precision(precision: float) -> int:
    """Shots per measurement basis for a target standard error (IBM's rule); 0 = exact."""
    return 0 if precision == 0 else math.ceil(1.0 / precision**2 - 1e-9)
