"""``qiskit_ibm_runtime.options_models`` for the client-side drop-in: IBM's own Pydantic models.

The option classes are IBM's (the same fields, defaults, validation on assignment and messages),
so ``from qrt_runner.runtime.options_models import EstimatorOptions`` builds what IBM's builds.
Two are subclassed so that ``resilience.layer_noise_model`` also takes what IBM's older
``NoiseLearner`` returns (a ``NoiseLearnerResult`` or a list of ``LayerError``), turned into
IBM's ``(box, PauliLindbladMap)`` pairs before IBM validates them; IBM's objects are accepted
wherever these are. What qrt_runner does with every option: :mod:`qrt_runner.runtime.client_options`.
"""

from __future__ import annotations

from typing import Any

from pydantic import field_validator
from qiskit_ibm_runtime import options_models as ibm
from qiskit_ibm_runtime.options_models import (
    BitFlipChecksOptions,
    CalibratorOptions,
    DynamicalDecouplingOptions,
    EnvironmentOptions,
    ExecutionOptions,
    ExecutorOptions,
    MeasureNoiseLearningOptions,
    NoiseLearnerV3Options,
    PecOptions,
    PostCircuitBitFlipChecksOptions,
    PreCircuitBitFlipChecksOptions,
    SamplerExecutionOptions,
    SamplerOptions,
    SimulatorOptions,
    TwirlingOptions,
    ZneOptions,
)

from qrt_runner.runtime.layer_models import layer_pairs

__all__ = [
    "BitFlipChecksOptions",
    "CalibratorOptions",
    "DynamicalDecouplingOptions",
    "EnvironmentOptions",
    "EstimatorOptions",
    "ExecutionOptions",
    "ExecutorOptions",
    "MeasureNoiseLearningOptions",
    "NoiseLearnerV3Options",
    "PecOptions",
    "PostCircuitBitFlipChecksOptions",
    "PreCircuitBitFlipChecksOptions",
    "ResilienceOptions",
    "SamplerExecutionOptions",
    "SamplerOptions",
    "SimulatorOptions",
    "TwirlingOptions",
    "ZneOptions",
]


class ResilienceOptions(ibm.ResilienceOptions):
    """IBM's ``ResilienceOptions``; ``layer_noise_model`` also takes a ``NoiseLearnerResult`` or ``LayerError`` list."""

    @field_validator("layer_noise_model", mode="before")
    @classmethod
    def _learned_layers(cls, value: Any) -> Any:
        return layer_pairs(value)


class EstimatorOptions(ibm.EstimatorOptions):
    """IBM's client-side ``EstimatorOptions`` (with :class:`ResilienceOptions`; IBM's
    ``ResilienceOptions`` assigned to ``resilience`` is taken as the same values)."""

    resilience: ResilienceOptions = ResilienceOptions()

    @field_validator("resilience", mode="before")
    @classmethod
    def _ibms_resilience(cls, value: Any) -> Any:
        if isinstance(value, ibm.ResilienceOptions) and not isinstance(value, ResilienceOptions):
            return {name: getattr(value, name) for name in type(value).model_fields}
        return value


def coerce_estimator_options(options: Any) -> ibm.EstimatorOptions:
    """IBM's rule for ``Estimator.options``: an options model (kept, not copied: later changes to it
    apply, as with IBM's) or a dict (TypeError otherwise)."""
    if isinstance(options, ibm.EstimatorOptions):
        return options
    if isinstance(options, dict):
        return EstimatorOptions(**options)
    raise TypeError(f"Expected EstimatorOptions or dict, got {type(options)}")


def coerce_sampler_options(options: Any) -> SamplerOptions:
    """IBM's rule for ``Sampler.options``: an options model or a dict (TypeError otherwise)."""
    if isinstance(options, dict):
        return SamplerOptions(**options)
    if not isinstance(options, SamplerOptions):
        raise TypeError(f"Expected SamplerOptions or dict, got {type(options)}")
    return options
