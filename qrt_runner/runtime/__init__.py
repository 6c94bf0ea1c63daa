"""A drop-in for qiskit-ibm-runtime's primitives: change the import line, keep the script.

``from qrt_runner.runtime import EstimatorV2, SamplerV2, Session, Batch``: the same signatures,
options and jobs as ``qiskit_ibm_runtime``'s, run on fake devices (or the ideal simulator) with
the mitigation options applied locally, where IBM's local testing mode ignores them.
"""

from qrt_runner.runtime.options import EstimatorOptions, NoSuchOption, SamplerOptions, UnsupportedOption
from qrt_runner.runtime.primitives import EstimatorV2, RuntimeJob, SamplerV2
from qrt_runner.runtime.session import Batch, Session

Estimator = EstimatorV2
Sampler = SamplerV2

__all__ = [
    "Batch",
    "Estimator",
    "EstimatorOptions",
    "EstimatorV2",
    "NoSuchOption",
    "RuntimeJob",
    "Sampler",
    "SamplerOptions",
    "SamplerV2",
    "Session",
    "UnsupportedOption",
]
