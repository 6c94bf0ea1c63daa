"""The layer noise that PEC and PEA act on: derived from the fake device, learned on it
(:mod:`qrt_runner.mitigation.noise_learning`), or read from a file."""

from __future__ import annotations

from pathlib import Path

from qiskit import QuantumCircuit

from qrt_runner.mitigation.layer_channels import LayerNoisePlan
from qrt_runner.mitigation.layer_noise import layer_noise_source
from qrt_runner.mitigation.options import EffectiveMitigation, LayerNoiseOptions
from qrt_runner.mitigation.technique import DeviceInfo


def learning_of(mit: EffectiveMitigation) -> tuple[LayerNoiseOptions | None, bool]:
    """The learning options when the model is learned (else None), and whether the twirl is dressed."""
    learning = mit.layer_noise if mit.layer_noise.source == "learned" else None
    return learning, mit.twirling.dressing_noise


def layer_noise_signature(
    path: str | None, device: DeviceInfo, learning: LayerNoiseOptions | None = None, dressed: bool = False
) -> str:
    """The cache-key part of a layer noise model: its file and the file's version, the learning
    options and the noise learned under, or the device."""
    if learning is not None and device.device_name is not None:
        return f"layers-learned{learning}{dressed}{device.name}{device.noise}{device.seed_simulator}"
    version = Path(path).stat().st_mtime if path else device.name
    return f"layers{path}{version}"


def layer_noise_plan(
    template: QuantumCircuit,
    path: str | None,
    device: DeviceInfo,
    learning: LayerNoiseOptions | None = None,
    dressed: bool = False,
) -> LayerNoisePlan:
    """The noise of every twirled layer of ``template`` (made by gate twirling)."""
    if learning is not None and device.device_name is not None:
        from qrt_runner.mitigation.noise_learning import LearnedLayerNoise, LearningOptions

        options = LearningOptions(
            learning.layer_pair_depths,
            learning.num_randomizations,
            learning.shots_per_randomization,
            learning.max_layers_to_learn,
        )
        source = LearnedLayerNoise(device.device_name, options, dressed, device.seed_simulator, device.noise)
        return LayerNoisePlan(template, device.physical_qubits, source)
    return LayerNoisePlan(template, device.physical_qubits, layer_noise_source(path, device.device_name))
