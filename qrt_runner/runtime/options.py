"""``primitive.options``: qiskit-ibm-runtime's option tree, validated on assignment, every implemented leaf applied.

``estimator.options.resilience_level = 2``, ``estimator.options.resilience.zne.noise_factors =
(1, 3, 5)``, ``options.update(default_shots=1024, twirling={"enable_gates": True})``: the same
paths, checks, ``dataclasses.asdict``, equality and printing as ``qiskit_ibm_runtime.options.
EstimatorOptions`` / ``SamplerOptions`` (their own validation runs on every assignment; a bad value
raises ``ValueError`` at once, naming ``options.<path>``). Unset leaves are None (IBM's ``Unset``)
and are filled from the resilience level when the job runs. qrt_runner's own leaves sit beside
IBM's (``twirling.dressing_noise``, ``resilience.zne.extrapolator_choice``, ...). An option IBM has
and qrt_runner does not implement raises :class:`UnsupportedOption` naming it; a name IBM does not
have raises :class:`NoSuchOption`.
"""

from __future__ import annotations

import copy
import dataclasses
from typing import Any, ClassVar

from qiskit_ibm_runtime import options as ibm

from qrt_runner.config import mitigation_schema as ms
from qrt_runner.runtime.node import OptionNode
from qrt_runner.runtime.validation import NoSuchOption, UnsupportedOption

__all__ = ["EstimatorOptions", "NoSuchOption", "SamplerOptions", "UnsupportedOption", "coerce_options"]


@dataclasses.dataclass
class EnvironmentOptions(OptionNode):
    log_level: str = "WARNING"
    job_tags: list | None = None
    private: bool | None = False


@dataclasses.dataclass
class SimulatorOptions(OptionNode):
    noise_model: Any = None
    seed_simulator: int | None = None
    coupling_map: Any = None
    basis_gates: list | None = None


@dataclasses.dataclass
class DynamicalDecouplingOptions(OptionNode):
    enable: bool | None = None
    sequence_type: str | None = None
    extra_slack_distribution: str | None = None
    scheduling_method: str | None = None
    skip_reset_qubits: bool | None = None


@dataclasses.dataclass
class MeasureNoiseLearningOptions(OptionNode):
    num_randomizations: int | None = None
    shots_per_randomization: int | str | None = None


@dataclasses.dataclass
class ZneOptions(OptionNode):
    amplifier: str | None = None
    noise_factors: list | None = None
    extrapolator: str | list | None = None
    extrapolated_noise_factors: list | None = None
    extrapolator_choice: str | None = None  # qrt_runner's: "uncertainty" (default) or "order" (IBM's)
    extrapolate_per_term: bool | None = None  # qrt_runner's: each Pauli term on its own (default, as IBM)
    shot_allocation: str | None = None  # qrt_runner's: "inverse_sqrt" (default) or "equal" (IBM's)
    randomization_allocation: str | None = None  # qrt_runner's: "equal" (default, IBM's) or "inverse_factor"


@dataclasses.dataclass
class PecOptions(OptionNode):
    max_overhead: float | None = None
    noise_gain: float | str | None = None


@dataclasses.dataclass
class LayerNoiseLearningOptions(OptionNode):  # set: PEC/PEA learn the layers in the simulator with these
    max_layers_to_learn: int | None = None
    shots_per_randomization: int | None = None
    num_randomizations: int | None = None
    layer_pair_depths: list | None = None


@dataclasses.dataclass
class ResilienceOptionsV2(OptionNode):
    measure_mitigation: bool | None = None
    measure_noise_learning: MeasureNoiseLearningOptions = dataclasses.field(default_factory=MeasureNoiseLearningOptions)
    zne_mitigation: bool | None = None
    zne: ZneOptions = dataclasses.field(default_factory=ZneOptions)
    pec_mitigation: bool | None = None
    pec: PecOptions = dataclasses.field(default_factory=PecOptions)
    layer_noise_learning: LayerNoiseLearningOptions = dataclasses.field(default_factory=LayerNoiseLearningOptions)
    layer_noise_model: str | None = None  # a model file (or IBM's learner result, stored as one); None: device's
    nearest_probability: bool | None = None  # qrt_runner's: also the nearest probability distribution


@dataclasses.dataclass
class ExecutionOptionsV2(OptionNode):
    init_qubits: bool | None = None
    rep_delay: float | None = None


@dataclasses.dataclass
class SamplerExecutionOptionsV2(ExecutionOptionsV2):
    meas_type: str | None = None


@dataclasses.dataclass
class TwirlingOptions(OptionNode):
    enable_gates: bool | None = None
    enable_measure: bool | None = None
    num_randomizations: int | str | None = None
    shots_per_randomization: int | str | None = None
    strategy: str | None = None
    dressing_noise: bool | None = None  # qrt_runner's: simulate the errors of IBM's compiled dressings


class _Root(OptionNode):
    """The options of one primitive, bound to a private IBM options object of the same kind."""

    _ibm_class: ClassVar[type]
    twirling: TwirlingOptions
    dynamical_decoupling: DynamicalDecouplingOptions

    def __post_init__(self) -> None:
        self._bind("", self._ibm_class())
        for field in dataclasses.fields(self):  # type: ignore[arg-type]
            if not field.name.startswith("_"):  # every value given to the constructor, checked
                setattr(self, field.name, getattr(self, field.name))

    @classmethod
    def _from_ibm(cls, given: Any) -> Any:
        """A copy of qiskit-ibm-runtime's options object (its Unset leaves take qrt_runner's defaults)."""
        options = cls()
        options._pull(copy.deepcopy(given))
        return options

    def mitigation(self) -> ms.MitigationConfig:
        """The mitigation options as qrt_runner's config (unset leaves are filled by the level)."""
        return ms.MitigationConfig(
            0,
            ms.ResilienceConfig(),
            _schema(ms.TwirlingConfig, self.twirling),
            _schema(ms.DynamicalDecouplingConfig, self.dynamical_decoupling),
        )


@dataclasses.dataclass
class EstimatorOptions(_Root):
    """The Estimator's options, by qiskit-ibm-runtime's names (IBM's defaults: resilience level 1,
    precision 1/64)."""

    _ibm_class: ClassVar[type] = ibm.EstimatorOptions
    _VERSION: int = 2
    max_execution_time: int | None = None
    environment: EnvironmentOptions = dataclasses.field(default_factory=EnvironmentOptions)
    simulator: SimulatorOptions = dataclasses.field(default_factory=SimulatorOptions)
    default_precision: float = 0.015625
    default_shots: int | None = None
    resilience_level: int = 1
    seed_estimator: int | None = None
    dynamical_decoupling: DynamicalDecouplingOptions = dataclasses.field(default_factory=DynamicalDecouplingOptions)
    resilience: ResilienceOptionsV2 = dataclasses.field(default_factory=ResilienceOptionsV2)
    execution: ExecutionOptionsV2 = dataclasses.field(default_factory=ExecutionOptionsV2)
    twirling: TwirlingOptions = dataclasses.field(default_factory=TwirlingOptions)
    experimental: dict | None = None

    def mitigation(self) -> ms.MitigationConfig:
        config = super().mitigation()
        return dataclasses.replace(
            config,
            resilience_level=self.resilience_level,
            resilience=_schema(ms.ResilienceConfig, self.resilience),
            layer_noise=_learning(self.resilience),
        )


@dataclasses.dataclass
class SamplerOptions(_Root):
    """The Sampler's options, by qiskit-ibm-runtime's names (no resilience options, as IBM's)."""

    _ibm_class: ClassVar[type] = ibm.SamplerOptions
    _VERSION: int = 2
    max_execution_time: int | None = None
    environment: EnvironmentOptions = dataclasses.field(default_factory=EnvironmentOptions)
    simulator: SimulatorOptions = dataclasses.field(default_factory=SimulatorOptions)
    default_shots: int = 4096
    dynamical_decoupling: DynamicalDecouplingOptions = dataclasses.field(default_factory=DynamicalDecouplingOptions)
    execution: SamplerExecutionOptionsV2 = dataclasses.field(default_factory=SamplerExecutionOptionsV2)
    twirling: TwirlingOptions = dataclasses.field(default_factory=TwirlingOptions)
    experimental: dict | None = None


def coerce_options(options: Any, kind: type[_Root]) -> _Root:
    """A primitive's own copy of the options given: None, a dict, or an options object of its kind
    (qrt_runner's or qiskit-ibm-runtime's). Later changes to what was given do not reach it."""
    if options is None:
        return kind()
    if isinstance(options, kind):
        return copy.deepcopy(options)
    if isinstance(options, kind._ibm_class):
        return kind._from_ibm(options)
    if isinstance(options, dict):
        built = kind()
        built.update(**options)  # IBM: the defaults merged with the dict, validated
        return built
    raise TypeError(
        f"options: give a dict or a {kind.__name__} (qrt_runner's or qiskit-ibm-runtime's), not {type(options).__name__}"
    )


def _learning(resilience: ResilienceOptionsV2) -> ms.LayerNoiseConfig:
    """IBM's ``resilience.layer_noise_learning``: when any of it is set (and no ``layer_noise_model`` is
    given, which IBM uses instead of learning), PEC and PEA learn each layer in the simulator with it
    (IBM's defaults for the rest); otherwise the model is the fake device's own (or the file's)."""
    given = {
        field.name: value
        for field in dataclasses.fields(resilience.layer_noise_learning)
        if not field.name.startswith("_")
        and (value := getattr(resilience.layer_noise_learning, field.name)) is not None
    }
    if not given or resilience.layer_noise_model is not None:
        return ms.LayerNoiseConfig()
    if "layer_pair_depths" in given:
        given["layer_pair_depths"] = list(given["layer_pair_depths"])
    return ms.LayerNoiseConfig(source="learned", **given)


def _schema(cls: type, node: Any) -> Any:
    """qrt_runner's config dataclass ``cls`` from a node (IBM's "auto" is qrt_runner's None)."""
    values = {}
    for field in dataclasses.fields(cls):
        value = getattr(node, field.name)
        if isinstance(field.default_factory, type) and dataclasses.is_dataclass(field.default_factory):
            value = _schema(field.default_factory, value)
        elif isinstance(value, str) and value == "auto":
            value = None
        elif field.name == "extrapolator" and isinstance(value, str):
            value = [value]
        values[field.name] = copy.copy(value)
    return cls(**values)
