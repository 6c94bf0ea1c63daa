"""The one error of the function commands: bad input, told in one line (exit 2)."""

from __future__ import annotations

__all__ = ["FunctionInputError"]


class FunctionInputError(ValueError):
    """Bad input to a ``qrt-run function`` command (a missing folder, no token, an unknown job...)."""
