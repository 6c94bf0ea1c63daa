"""``qiskit_ibm_runtime.noise_learner_v3``'s import path (as IBM's docs write it:
``from qiskit_ibm_runtime.noise_learner_v3 import NoiseLearnerV3``) for
:class:`qrt_runner.runtime.noise_learner.NoiseLearnerV3`."""

from __future__ import annotations

from qrt_runner.runtime.noise_learner import NoiseLearnerV3

__all__ = ["NoiseLearnerV3"]
