"""qrt_runner: the Qiskit Runtime service model, local-first, driven by Hydra configs."""

from __future__ import annotations

__version__ = "0.1.0"
