"""The mitigation and suppression techniques, one module each, and the pipelines the primitives
compose from the effective options (see :mod:`qrt_runner.mitigation.technique` for the contract).

The order of a pipeline is the order of the build steps (noise factors first, then decoupling,
gate twirling, the channels PEC or PEA inject behind the twirled layers, then the measurements
and their calibration) and of the random draws; reversed, it orders the diagnostics.
"""

from __future__ import annotations

from qrt_runner.mitigation.options import EffectiveMitigation
from qrt_runner.mitigation.technique import Technique
from qrt_runner.mitigation.techniques.decoupling import DynamicalDecoupling
from qrt_runner.mitigation.techniques.gate_twirling import GateTwirling
from qrt_runner.mitigation.techniques.measure_twirling import MeasureTwirling, SampledMeasureTwirling
from qrt_runner.mitigation.techniques.pea import Pea
from qrt_runner.mitigation.techniques.pec import Pec
from qrt_runner.mitigation.techniques.trex import Trex
from qrt_runner.mitigation.techniques.zne import Zne

ESTIMATOR_TECHNIQUES = (Zne, DynamicalDecoupling, GateTwirling, Pec, Pea, MeasureTwirling, Trex)
SAMPLER_TECHNIQUES = (DynamicalDecoupling, GateTwirling, SampledMeasureTwirling)


def estimator_pipeline(mitigation: EffectiveMitigation | None) -> list[Technique]:
    """The Estimator's enabled techniques, in pipeline order (empty without mitigation)."""
    return _enabled(ESTIMATOR_TECHNIQUES, mitigation)


def sampler_pipeline(mitigation: EffectiveMitigation | None) -> list[Technique]:
    """The Sampler's enabled techniques, in pipeline order (its readout mitigation runs as a
    task of its own: :mod:`qrt_runner.mitigation.techniques.readout`)."""
    return _enabled(SAMPLER_TECHNIQUES, mitigation)


def _enabled(kinds, mitigation: EffectiveMitigation | None) -> list[Technique]:
    if mitigation is None or not mitigation.active:
        return []
    return [technique for kind in kinds if (technique := kind.from_options(mitigation)) is not None]
