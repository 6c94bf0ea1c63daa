"""Sweeps (``qrt-run -m``) on any Hydra launcher: one record per sweep, read back from its points."""
