"""What the layers above may know of a backend's device, without the backend itself."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["DeviceInfo"]


@dataclass(frozen=True)
class DeviceInfo:
    """What mitigation techniques may know of the device.

    Attributes:
        name: the backend's name (``aer`` or ``fake_<device>``).
        device_name: the fake device whose noise is simulated, None for the ideal simulator.
        seed_simulator: the backend's root seed (gate folding draws its random folds from it).
        physical_qubits: the device qubits of the compact ISA circuit.
        compact_target: the device target restricted to ``physical_qubits`` (for scheduling),
            None for the ideal simulator.
        noise: the noise the simulator applies on the device: its full model (``device``), its
            Pauli form (``pauli``) or ``none`` (what a learned layer noise model learns).
    """

    name: str
    device_name: str | None
    seed_simulator: int
    physical_qubits: tuple[int, ...]
    compact_target: Callable[[], Any] | None = None
    noise: str = "device"
