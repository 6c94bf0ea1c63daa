"""The mitigation group's schema: leaf names as ``qiskit_ibm_runtime.options_models``, null = unset
(filled from the resilience level by :func:`qrt_runner.mitigation.options.finalize`), each field
with its declared range or allowed values (:mod:`qrt_runner.config.constraints`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any, List, Optional

from pydantic import Field

from qrt_runner.config.allowed import (
    AMPLIFIERS,
    DD_SEQUENCES,
    EXTRAPOLATOR_CHOICES,
    EXTRAPOLATORS,
    MAX_NOISE_FACTOR,
    RANDOMIZATION_ALLOCATIONS,
    SCHEDULING_METHODS,
    SHOT_ALLOCATIONS,
    SLACK_DISTRIBUTIONS,
    TWIRLING_STRATEGIES,
)
from qrt_runner.config.constraints import Finite, Hint, OneOf, Positive

NoiseFactor = Annotated[
    float,
    Field(ge=1, le=MAX_NOISE_FACTOR, allow_inf_nan=False),
    Hint(
        problem=f"needs at least two factors, each between 1 and {MAX_NOISE_FACTOR:g}",
        why="a factor k folds each gate (k-1)/2 times",
        fix="e.g. [1, 3, 5]",
    ),
]
Randomizations = Optional[Annotated[int, Field(ge=1), Hint(fix="set {key} to a positive integer or null (auto)")]]
LAYER_NOISE_SOURCES = ("device", "learned", "file")
PairDepth = Annotated[int, Field(ge=0, le=1000), Hint(fix="e.g. [0, 1, 2, 4, 16, 32] (IBM's default)")]
LearningCount = Annotated[int, Field(ge=1), Hint(fix="set {key} to a positive integer")]


@dataclass
class MeasureNoiseLearningConfig:
    num_randomizations: Randomizations = None
    shots_per_randomization: Randomizations = None


@dataclass
class ZneConfig:
    amplifier: Optional[Annotated[str, OneOf(*AMPLIFIERS, what="amplifier")]] = None
    noise_factors: Optional[List[NoiseFactor]] = None
    extrapolator: Optional[
        List[
            Annotated[
                str, OneOf(*EXTRAPOLATORS, what="extrapolator"), Hint(fix=f"choose from {', '.join(EXTRAPOLATORS)}")
            ]
        ]
    ] = None
    extrapolated_noise_factors: Optional[List[Finite]] = None
    # qrt_runner only (IBM has no such leaves): how the extrapolator is chosen (uncertainty: the
    # first well-conditioned one, default; order: the first successful one, as IBM), and whether
    # each Pauli term is extrapolated on its own (default true, as IBM's service) or each observable
    extrapolator_choice: Optional[
        Annotated[
            str,
            OneOf(*EXTRAPOLATOR_CHOICES, what="choice"),
            Hint(fix="choose uncertainty (first well-conditioned fit) or order (first successful fit, as IBM)"),
        ]
    ] = None
    extrapolate_per_term: Optional[bool] = None
    # qrt_runner only: how a PUB's shots are shared among its noise factors (inverse_sqrt: shots
    # proportional to 1/sqrt(factor), default; equal: as IBM), the total kept
    shot_allocation: Optional[
        Annotated[
            str,
            OneOf(*SHOT_ALLOCATIONS, what="allocation"),
            Hint(fix="choose inverse_sqrt (more shots at low noise factors) or equal (as IBM)"),
        ]
    ] = None
    # qrt_runner only: how many of the twirl's randomisations each noise factor gets
    # (equal: every factor all of them, as IBM, default; inverse_factor: in proportion to
    # 1/factor, each with more shots, the factor's shots kept: a cheaper simulation)
    randomization_allocation: Optional[
        Annotated[
            str,
            OneOf(*RANDOMIZATION_ALLOCATIONS, what="allocation"),
            Hint(fix="choose inverse_factor (fewer randomisations at high noise factors) or equal (as IBM)"),
        ]
    ] = None


@dataclass
class PecConfig:
    max_overhead: Optional[Annotated[Positive, Hint(fix="e.g. 100")]] = None
    noise_gain: Any = None  # a float >= 0, or "auto"


@dataclass
class ResilienceConfig:
    measure_mitigation: Optional[bool] = None
    measure_noise_learning: MeasureNoiseLearningConfig = field(default_factory=MeasureNoiseLearningConfig)
    zne_mitigation: Optional[bool] = None
    zne: ZneConfig = field(default_factory=ZneConfig)
    pec_mitigation: Optional[bool] = None
    pec: PecConfig = field(default_factory=PecConfig)
    layer_noise_model: Optional[str] = None  # a layer noise model file for PEC/PEA (default: the fake device's own)
    # qrt_runner only, sampler with measure_mitigation: also report the nearest probability
    # distribution to each readout-mitigated quasi-distribution (default true; the raw stay)
    nearest_probability: Optional[bool] = None


@dataclass
class LayerNoiseConfig:
    """qrt_runner's choice of PEC's and PEA's layer noise model: the fake ``device``'s own (derived
    from its noise model), ``learned`` (IBM's learning protocol run in the simulator, with the
    options of IBM's ``NoiseLearnerV3Options`` and their defaults), or a ``file``. null: ``file``
    when ``file`` or ``resilience.layer_noise_model`` names one, else ``device``."""

    source: Optional[Annotated[str, OneOf(*LAYER_NOISE_SOURCES, what="layer noise source")]] = None
    file: Optional[str] = None  # source=file: a layer noise model file (as resilience.layer_noise_model)
    layer_pair_depths: List[PairDepth] = field(default_factory=lambda: [0, 1, 2, 4, 16, 32])
    num_randomizations: LearningCount = 32
    shots_per_randomization: LearningCount = 128
    max_layers_to_learn: Optional[Annotated[int, Field(ge=0), Hint(fix="a count, or null for no limit")]] = 4


@dataclass
class TwirlingConfig:
    enable_gates: Optional[bool] = None
    enable_measure: Optional[bool] = None
    num_randomizations: Randomizations = None
    shots_per_randomization: Randomizations = None
    strategy: Optional[Annotated[str, OneOf(*TWIRLING_STRATEGIES, what="strategy")]] = None
    dressing_noise: Optional[bool] = None  # qrt_runner only: IBM's compiled dressings' errors


@dataclass
class DynamicalDecouplingConfig:
    enable: Optional[bool] = None
    sequence_type: Optional[Annotated[str, OneOf(*DD_SEQUENCES, what="sequence")]] = None
    extra_slack_distribution: Optional[Annotated[str, OneOf(*SLACK_DISTRIBUTIONS)]] = None
    scheduling_method: Optional[Annotated[str, OneOf(*SCHEDULING_METHODS)]] = None
    skip_reset_qubits: Optional[bool] = None


@dataclass
class MitigationConfig:
    """Leaf names as ``qiskit_ibm_runtime.options_models``; null = unset, filled from the level."""

    resilience_level: Annotated[int, OneOf(0, 1, 2)] = 0
    resilience: ResilienceConfig = field(default_factory=ResilienceConfig)
    twirling: TwirlingConfig = field(default_factory=TwirlingConfig)
    dynamical_decoupling: DynamicalDecouplingConfig = field(default_factory=DynamicalDecouplingConfig)
    layer_noise: LayerNoiseConfig = field(default_factory=LayerNoiseConfig)
