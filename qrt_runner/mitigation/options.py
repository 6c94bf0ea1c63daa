"""Effective mitigation options: resilience-level defaults fill what the user left unset.

The rules follow IBM's options finalisation: level 0 turns everything off, level 1 adds
measurement twirling and TREX, level 2 adds gate twirling and ZNE; measurement mitigation forces
measurement twirling; PEC and PEA force gate and measurement twirling; PEC with ZNE is refused.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path

from qrt_runner.config import schema as s
from qrt_runner.errors import ConfigError
from qrt_runner.mitigation.decoupling import SEQUENCES as DD_SEQUENCES
from qrt_runner.mitigation.extrapolation import CHOICES as EXTRAPOLATOR_CHOICES
from qrt_runner.mitigation.twirling import STRATEGIES

LEVEL_DEFAULTS = {
    0: {"enable_gates": False, "enable_measure": False, "measure_mitigation": False, "zne_mitigation": False},
    1: {"enable_gates": False, "enable_measure": True, "measure_mitigation": True, "zne_mitigation": False},
    2: {"enable_gates": True, "enable_measure": True, "measure_mitigation": True, "zne_mitigation": True},
}
AMPLIFIERS = ("gate_folding", "gate_folding_front", "gate_folding_back", "pea")
EXTRAPOLATORS = ("linear", "exponential", "double_exponential", "fallback") + tuple(
    f"polynomial_degree_{k}" for k in range(1, 8)
)
DEFAULT_NOISE_FACTORS = (1.0, 3.0, 5.0)
DEFAULT_EXTRAPOLATORS = ("exponential", "linear")
DEFAULT_RANDOMIZATIONS = 32
DEFAULT_CALIBRATION_SHOTS_PER_RANDOMIZATION = 128


def degrees_of_freedom(extrapolator: str) -> int:
    """Fit parameters of an extrapolator (it needs more noise factors than that)."""
    if extrapolator == "fallback":
        return 0
    if extrapolator in ("linear", "exponential"):
        return 2
    if extrapolator == "double_exponential":
        return 4
    return int(extrapolator.rsplit("_", 1)[1]) + 1


@dataclass(frozen=True)
class EffectiveMitigation:
    """Every mitigation setting with its effective value (nothing left unset)."""

    resilience_level: int
    measure_mitigation: bool
    measure_noise_learning_num_randomizations: int
    measure_noise_learning_shots_per_randomization: int
    zne_mitigation: bool
    zne_amplifier: str
    zne_noise_factors: tuple[float, ...]
    zne_extrapolator: tuple[str, ...]
    zne_extrapolated_noise_factors: tuple[float, ...]
    pec_mitigation: bool
    pec_max_overhead: float
    enable_gates: bool
    enable_measure: bool
    num_randomizations: int
    shots_per_randomization: int | None
    strategy: str
    dd_enable: bool
    dd_sequence_type: str
    dd_extra_slack_distribution: str = "middle"
    dd_scheduling_method: str = "alap"
    dd_skip_reset_qubits: bool = False
    pec_noise_gain: float | str = "auto"
    layer_noise_model: str | None = None
    num_randomizations_auto: bool = False
    zne_extrapolator_choice: str = "uncertainty"
    zne_extrapolate_per_term: bool = True
    nearest_probability: bool = True

    @property
    def pea(self) -> bool:
        return self.zne_mitigation and self.zne_amplifier == "pea"

    @property
    def needs_layer_noise(self) -> bool:
        """PEC and PEA need a layer noise model."""
        return self.pec_mitigation or self.pea

    @property
    def active(self) -> bool:
        return (
            self.measure_mitigation or self.zne_mitigation or self.enable_measure or self.enable_gates or self.dd_enable
        )

    def to_dict(self) -> dict:
        """The effective options under IBM's option-tree names (for results.json and MLflow)."""
        flat = asdict(self)
        return {
            "resilience_level": flat["resilience_level"],
            "resilience": {
                "measure_mitigation": flat["measure_mitigation"],
                "measure_noise_learning": {
                    "num_randomizations": flat["measure_noise_learning_num_randomizations"],
                    "shots_per_randomization": flat["measure_noise_learning_shots_per_randomization"],
                },
                "zne_mitigation": flat["zne_mitigation"],
                "zne": {
                    "amplifier": flat["zne_amplifier"],
                    "noise_factors": list(flat["zne_noise_factors"]),
                    "extrapolator": list(flat["zne_extrapolator"]),
                    "extrapolated_noise_factors": list(flat["zne_extrapolated_noise_factors"]),
                    "extrapolator_choice": flat["zne_extrapolator_choice"],
                    "extrapolate_per_term": flat["zne_extrapolate_per_term"],
                },
                "pec_mitigation": flat["pec_mitigation"],
                "pec": {"max_overhead": flat["pec_max_overhead"], "noise_gain": flat["pec_noise_gain"]},
                "layer_noise_model": flat["layer_noise_model"],
                "nearest_probability": flat["nearest_probability"],
            },
            "twirling": {
                "enable_gates": flat["enable_gates"],
                "enable_measure": flat["enable_measure"],
                "num_randomizations": "auto"
                if self.num_randomizations_auto and self.needs_layer_noise
                else flat["num_randomizations"],
                "shots_per_randomization": flat["shots_per_randomization"] or "auto",
                "strategy": flat["strategy"],
            },
            "dynamical_decoupling": {
                "enable": flat["dd_enable"],
                "sequence_type": flat["dd_sequence_type"],
                "extra_slack_distribution": flat["dd_extra_slack_distribution"],
                "scheduling_method": flat["dd_scheduling_method"],
                "skip_reset_qubits": flat["dd_skip_reset_qubits"],
            },
        }


def _noise_gain(value) -> float | str:
    if value is None or value == "auto":
        return "auto"
    try:
        gain = float(value)
    except (TypeError, ValueError):
        gain = float("nan")
    if not math.isfinite(gain) or gain < 0:
        raise ConfigError(
            "mitigation.resilience.pec.noise_gain",
            value,
            "must be a number >= 0 or auto",
            "e.g. auto (chosen to fit max_overhead), 0 (cancel all learned noise) or 0.5",
        )
    return gain


def _check_layer_noise_file(path: str) -> None:
    from qrt_runner.mitigation.layer_noise import layer_noise_source

    key = "mitigation.resilience.layer_noise_model"
    if not Path(path).is_file():
        raise ConfigError(
            key,
            path,
            "no such file",
            "give the path of a JSON/YAML layer noise model, or null for the fake device's own",
        )
    try:
        layer_noise_source(path, None)  # parsed once per file version; the estimator reuses it
    except Exception as exc:  # malformed JSON/YAML or layers
        raise ConfigError(
            key,
            path,
            f"cannot be read ({' '.join(str(exc).split())[:160]})",
            "fix the file (see README: layer noise model)",
        ) from None


def _pick(value, default):
    return default if value is None else value


def finalize(config: s.MitigationConfig, *, primitive: str = "estimator") -> EffectiveMitigation:
    """Fill unset fields from the resilience level and check the combination.

    Raises:
        ConfigError: for out-of-range values, refused combinations and techniques not built yet.
    """
    level = config.resilience_level
    if level not in LEVEL_DEFAULTS:
        raise ConfigError(
            "mitigation.resilience_level", level, "must be 0, 1 or 2", "set mitigation.resilience_level to 0, 1 or 2"
        )
    res, twirl, dd = config.resilience, config.twirling, config.dynamical_decoupling
    if primitive == "sampler":
        if level != 0 or res.zne_mitigation or res.pec_mitigation:
            raise ConfigError(
                "mitigation.resilience_level",
                level,
                "the sampler has no resilience levels, ZNE or PEC",
                "use mitigation=none, or mitigation.resilience.measure_mitigation=true for readout-mitigated quasi-probabilities",
            )
    defaults = LEVEL_DEFAULTS[level]
    measure_mitigation = _pick(res.measure_mitigation, defaults["measure_mitigation"])
    zne = _pick(res.zne_mitigation, defaults["zne_mitigation"])
    pec = _pick(res.pec_mitigation, False)
    enable_gates = _pick(twirl.enable_gates, defaults["enable_gates"])
    enable_measure = _pick(twirl.enable_measure, defaults["enable_measure"])
    amplifier = _pick(res.zne.amplifier, "gate_folding")
    if measure_mitigation and primitive == "estimator":
        enable_measure = True
    if pec or (zne and amplifier == "pea"):
        enable_gates = enable_measure = True
    if pec and zne:
        raise ConfigError(
            "mitigation.resilience.pec_mitigation",
            True,
            "PEC cannot be combined with ZNE",
            "turn one off: mitigation.resilience.zne_mitigation=false or mitigation.resilience.pec_mitigation=false",
        )
    if amplifier not in AMPLIFIERS:
        raise ConfigError(
            "mitigation.resilience.zne.amplifier",
            amplifier,
            "unknown amplifier",
            f"choose one of {', '.join(AMPLIFIERS)}",
        )
    factors = tuple(float(f) for f in _pick(res.zne.noise_factors, DEFAULT_NOISE_FACTORS))
    if len(factors) < 2 or any(f < 1 for f in factors):
        raise ConfigError(
            "mitigation.resilience.zne.noise_factors",
            list(factors),
            "needs at least two factors, each >= 1",
            "e.g. [1, 3, 5]",
        )
    extrapolators = tuple(_pick(res.zne.extrapolator, DEFAULT_EXTRAPOLATORS))
    for name in extrapolators:
        if name not in EXTRAPOLATORS:
            raise ConfigError(
                "mitigation.resilience.zne.extrapolator",
                name,
                "unknown extrapolator",
                f"choose from {', '.join(EXTRAPOLATORS)}",
            )
        if degrees_of_freedom(name) >= len(factors):
            raise ConfigError(
                "mitigation.resilience.zne.extrapolator",
                name,
                f"needs more than {degrees_of_freedom(name)} noise factors, got {len(factors)}",
                "add noise factors or pick a simpler extrapolator",
            )
    extrapolated = tuple(float(f) for f in _pick(res.zne.extrapolated_noise_factors, (0.0, *factors)))
    choice = _pick(res.zne.extrapolator_choice, "uncertainty")
    if choice not in EXTRAPOLATOR_CHOICES:
        raise ConfigError(
            "mitigation.resilience.zne.extrapolator_choice",
            choice,
            "unknown choice",
            "choose uncertainty (first well-conditioned fit) or order (first successful fit, as IBM)",
        )
    randomizations = _pick(twirl.num_randomizations, DEFAULT_RANDOMIZATIONS)
    for key, value in (
        ("mitigation.twirling.num_randomizations", randomizations),
        ("mitigation.twirling.shots_per_randomization", twirl.shots_per_randomization),
        (
            "mitigation.resilience.measure_noise_learning.num_randomizations",
            res.measure_noise_learning.num_randomizations,
        ),
        (
            "mitigation.resilience.measure_noise_learning.shots_per_randomization",
            res.measure_noise_learning.shots_per_randomization,
        ),
    ):
        if value is not None and value < 1:
            raise ConfigError(key, value, "must be at least 1", f"set {key} to a positive integer or null (auto)")
    strategy = _pick(twirl.strategy, "active-accum")
    dd_enable = _pick(dd.enable, False)
    dd_sequence = _pick(dd.sequence_type, "XX")
    if strategy not in STRATEGIES:
        raise ConfigError(
            "mitigation.twirling.strategy", strategy, "unknown strategy", f"choose one of {', '.join(STRATEGIES)}"
        )
    noise_gain = _noise_gain(res.pec.noise_gain)
    layer_noise_model = res.layer_noise_model
    if layer_noise_model is not None:
        _check_layer_noise_file(layer_noise_model)
    slack = _pick(dd.extra_slack_distribution, "middle")
    scheduling = _pick(dd.scheduling_method, "alap")
    if dd_enable:
        if dd_sequence not in DD_SEQUENCES:
            raise ConfigError(
                "mitigation.dynamical_decoupling.sequence_type",
                dd_sequence,
                "unknown sequence",
                f"choose one of {', '.join(DD_SEQUENCES)}",
            )
        for key, value, allowed in (
            ("mitigation.dynamical_decoupling.extra_slack_distribution", slack, ("middle", "edges")),
            ("mitigation.dynamical_decoupling.scheduling_method", scheduling, ("alap", "asap")),
        ):
            if value not in allowed:
                raise ConfigError(key, value, "unknown value", f"choose one of {', '.join(allowed)}")
    max_overhead = _pick(res.pec.max_overhead, 100.0)
    if max_overhead <= 0 or not math.isfinite(max_overhead):
        raise ConfigError("mitigation.resilience.pec.max_overhead", max_overhead, "must be > 0", "e.g. 100")
    return EffectiveMitigation(
        resilience_level=level,
        measure_mitigation=bool(measure_mitigation),
        measure_noise_learning_num_randomizations=_pick(
            res.measure_noise_learning.num_randomizations, DEFAULT_RANDOMIZATIONS
        ),
        measure_noise_learning_shots_per_randomization=_pick(
            res.measure_noise_learning.shots_per_randomization, DEFAULT_CALIBRATION_SHOTS_PER_RANDOMIZATION
        ),
        zne_mitigation=bool(zne),
        zne_amplifier=amplifier,
        zne_noise_factors=factors,
        zne_extrapolator=extrapolators,
        zne_extrapolated_noise_factors=extrapolated,
        pec_mitigation=bool(pec),
        pec_max_overhead=max_overhead,
        pec_noise_gain=noise_gain,
        layer_noise_model=layer_noise_model,
        num_randomizations_auto=twirl.num_randomizations is None,
        zne_extrapolator_choice=choice,
        zne_extrapolate_per_term=bool(_pick(res.zne.extrapolate_per_term, True)),
        nearest_probability=bool(_pick(res.nearest_probability, True)),
        enable_gates=bool(enable_gates),
        enable_measure=bool(enable_measure),
        num_randomizations=randomizations,
        shots_per_randomization=twirl.shots_per_randomization,
        strategy=strategy,
        dd_enable=bool(dd_enable),
        dd_sequence_type=dd_sequence,
        dd_extra_slack_distribution=slack,
        dd_scheduling_method=scheduling,
        dd_skip_reset_qubits=bool(_pick(dd.skip_reset_qubits, False)),
    )
