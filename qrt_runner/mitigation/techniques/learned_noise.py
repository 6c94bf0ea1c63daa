"""The layer noise that PEC and PEA act on: learned from the fake device, or read from a file."""

from __future__ import annotations

from pathlib import Path

from qiskit import QuantumCircuit

from qrt_runner.mitigation.layer_channels import LayerNoisePlan
from qrt_runner.mitigation.layer_noise import layer_noise_source
from qrt_runner.mitigation.technique import DeviceInfo


def layer_noise_signature(path: str | None, device: DeviceInfo) -> str:
    """The cache-key part of a layer noise model: its file and the file's version, or the device."""
    version = Path(path).stat().st_mtime if path else device.name
    return f"layers{path}{version}"


def layer_noise_plan(template: QuantumCircuit, path: str | None, device: DeviceInfo) -> LayerNoisePlan:
    """The noise of every twirled layer of ``template`` (made by gate twirling)."""
    return LayerNoisePlan(template, device.physical_qubits, layer_noise_source(path, device.device_name))
