"""A drop-in for qiskit-ibm-runtime's primitives: change the import line, keep the script.

``from qrt_runner.runtime import EstimatorV2, SamplerV2, Session, Batch``: the same signatures,
options and jobs as ``qiskit_ibm_runtime``'s, run on fake devices (or the ideal simulator) with
the mitigation options applied locally, where IBM's local testing mode ignores them.

IBM's client-side primitives (qiskit-ibm-runtime 0.50+) have the same paths here:
``qrt_runner.runtime.executor_estimator.Estimator``, ``qrt_runner.runtime.executor_sampler.
Sampler``, ``qrt_runner.runtime.options_models``; ``NoiseLearnerV3`` and ``NoiseLearner`` are
imported from :mod:`qrt_runner.runtime.noise_learner` when first asked for.
"""

from typing import Any

from qrt_runner.runtime.options import EstimatorOptions, NoSuchOption, SamplerOptions, UnsupportedOption
from qrt_runner.runtime.primitives import EstimatorV2, RuntimeJob, SamplerV2
from qrt_runner.runtime.session import Batch, Session

Estimator = EstimatorV2
Sampler = SamplerV2

_LEARNERS = ("NoiseLearner", "NoiseLearnerV3")


def __getattr__(name: str) -> Any:
    """``NoiseLearnerV3`` and ``NoiseLearner``, imported on first use (they load the learning protocol)."""
    if name in _LEARNERS:
        from qrt_runner.runtime import noise_learner

        return getattr(noise_learner, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "Batch",
    "Estimator",
    "EstimatorOptions",
    "EstimatorV2",
    "NoSuchOption",
    "NoiseLearner",
    "NoiseLearnerV3",
    "RuntimeJob",
    "Sampler",
    "SamplerOptions",
    "SamplerV2",
    "Session",
    "UnsupportedOption",
]
