"""Effective mitigation options: resilience-level defaults fill what the user left unset.

The rules follow IBM's options finalisation: level 0 turns everything off, level 1 adds
measurement twirling and TREX, level 2 adds gate twirling and ZNE; measurement mitigation forces
measurement twirling; PEC and PEA force gate and measurement twirling; PEC with ZNE is refused.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path

from qrt_runner.config import mitigation_schema as ms
from qrt_runner.config.constraints import check_declared
from qrt_runner.errors import ConfigError

LEVEL_DEFAULTS = {
    0: {"enable_gates": False, "enable_measure": False, "measure_mitigation": False, "zne_mitigation": False},
    1: {"enable_gates": False, "enable_measure": True, "measure_mitigation": True, "zne_mitigation": False},
    2: {"enable_gates": True, "enable_measure": True, "measure_mitigation": True, "zne_mitigation": True},
}
DEFAULT_NOISE_FACTORS = (1.0, 3.0, 5.0)
DEFAULT_EXTRAPOLATORS = ("exponential", "linear")
DEFAULT_RANDOMIZATIONS = 32
DEFAULT_CALIBRATION_SHOTS_PER_RANDOMIZATION = 128  # the Sampler's readout calibration (TREX's: the twirl's)


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
class MeasureNoiseLearningOptions:
    """IBM's ``resilience.measure_noise_learning``: the TREX calibration circuits. None is IBM's
    "auto": the randomisations and shots per randomisation the PUB's shots get from the twirl
    (before PEC's sampling overhead), so the calibration takes about the PUB's shots."""

    num_randomizations: int | None
    shots_per_randomization: int | None


@dataclass(frozen=True)
class ZneOptions:
    """IBM's ``resilience.zne`` (with qrt_runner's ``extrapolator_choice``, ``extrapolate_per_term``
    and ``shot_allocation``)."""

    amplifier: str
    noise_factors: tuple[float, ...]
    extrapolator: tuple[str, ...]
    extrapolated_noise_factors: tuple[float, ...]
    extrapolator_choice: str
    extrapolate_per_term: bool
    shot_allocation: str = "inverse_sqrt"
    randomization_allocation: str = "equal"

    def shot_weights(self) -> tuple[float, ...]:
        """Each noise factor's share of a PUB's shots, relative to an equal split (mean 1):
        ``inverse_sqrt`` gives factor f a share proportional to 1/sqrt(f). The extrapolated value
        rests most on the lowest factors (an exponential through 1, 3, 5 weighs them about
        1.1 : 0.3 : -0.4), so this cuts its standard error by about a tenth at the same total
        (measured on the per-factor data of ``benchmarks/mitigation.py``'s families: median
        0.89-0.95 per family); ``equal`` is IBM's split."""
        if self.shot_allocation == "equal":
            return tuple(1.0 for _ in self.noise_factors)
        raw = [f**-0.5 for f in self.noise_factors]
        mean = sum(raw) / len(raw)
        return tuple(w / mean for w in raw)

    def randomization_weights(self) -> tuple[float, ...]:
        """Each noise factor's share of the twirl's randomisations: ``inverse_factor`` gives
        factor f a share lowest / f (the lowest factor all of them), each randomisation with more
        shots so that the factor's shots stay the same. Small circuits are simulated as one
        density matrix per randomisation, at a cost in proportion to their gates, so to f: this
        makes every factor cost about the same (five factors 1-5 then cost less than 1, 3, 5 with
        every randomisation). What the randomisations add to the variance beyond their shots
        grows with the shots per randomisation; the estimator measures it and widens the
        standard errors by it (``variance_inflation``). ``equal`` (the default) is IBM's: every
        factor all of them."""
        if self.randomization_allocation == "equal":
            return tuple(1.0 for _ in self.noise_factors)
        lowest = min(self.noise_factors)
        return tuple(lowest / f for f in self.noise_factors)


@dataclass(frozen=True)
class PecOptions:
    """IBM's ``resilience.pec``."""

    max_overhead: float
    noise_gain: float | str  # a number >= 0, or "auto"


@dataclass(frozen=True)
class ResilienceOptions:
    """IBM's ``resilience`` (with qrt_runner's ``layer_noise_model`` file and ``nearest_probability``)."""

    measure_mitigation: bool
    measure_noise_learning: MeasureNoiseLearningOptions
    zne_mitigation: bool
    zne: ZneOptions
    pec_mitigation: bool
    pec: PecOptions
    layer_noise_model: str | None
    nearest_probability: bool

    @property
    def pea(self) -> bool:
        return self.zne_mitigation and self.zne.amplifier == "pea"


@dataclass(frozen=True)
class TwirlingOptions:
    """IBM's ``twirling`` (with qrt_runner's ``dressing_noise``: simulate the error of IBM's
    compiled dressings, see :mod:`qrt_runner.mitigation.dressing`). ``num_randomizations_auto``
    (not IBM's: it is not in :meth:`to_dict`) records that the user left ``num_randomizations``
    unset, which PEC and PEA then size from the shots; ``shots_per_randomization`` None is IBM's
    "auto"."""

    enable_gates: bool
    enable_measure: bool
    num_randomizations: int
    shots_per_randomization: int | None
    strategy: str
    num_randomizations_auto: bool
    dressing_noise: bool = False


@dataclass(frozen=True)
class DynamicalDecouplingOptions:
    """IBM's ``dynamical_decoupling``."""

    enable: bool
    sequence_type: str
    extra_slack_distribution: str
    scheduling_method: str
    skip_reset_qubits: bool


@dataclass(frozen=True)
class LayerNoiseOptions:
    """qrt_runner's ``layer_noise``: where PEC's and PEA's layer model comes from (``device``,
    ``learned`` or ``file``), the file, and the learning options (IBM's ``NoiseLearnerV3Options``)."""

    source: str = "device"
    file: str | None = None
    layer_pair_depths: tuple[int, ...] = (0, 1, 2, 4, 16, 32)
    num_randomizations: int = 32
    shots_per_randomization: int = 128
    max_layers_to_learn: int | None = 4


def _plain(value):
    """``asdict``'s output with tuples as lists (results.json and MLflow params show lists)."""
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (tuple, list)):
        return [_plain(item) for item in value]
    return value


@dataclass(frozen=True)
class EffectiveMitigation:
    """Every mitigation setting with its effective value (nothing left unset), in IBM's option
    tree: frozen and hashable all the way down."""

    resilience_level: int
    resilience: ResilienceOptions
    twirling: TwirlingOptions
    dynamical_decoupling: DynamicalDecouplingOptions
    layer_noise: LayerNoiseOptions = LayerNoiseOptions()

    @property
    def pea(self) -> bool:
        return self.resilience.pea

    @property
    def needs_layer_noise(self) -> bool:
        """PEC and PEA need a layer noise model."""
        return self.resilience.pec_mitigation or self.pea

    @property
    def active(self) -> bool:
        res, twirl = self.resilience, self.twirling
        return (
            res.measure_mitigation
            or res.zne_mitigation
            or twirl.enable_measure
            or twirl.enable_gates
            or self.dynamical_decoupling.enable
        )

    def to_dict(self) -> dict:
        """The effective options under IBM's option-tree names (for results.json and MLflow)."""
        tree = _plain(asdict(self))
        twirling = tree["twirling"]
        auto = twirling.pop("num_randomizations_auto")
        if not twirling["dressing_noise"]:  # qrt_runner's own, shown when on (records made before it stay as they were)
            del twirling["dressing_noise"]
        if auto and self.needs_layer_noise:
            twirling["num_randomizations"] = "auto"
        twirling["shots_per_randomization"] = twirling["shots_per_randomization"] or "auto"
        learning = tree["resilience"]["measure_noise_learning"]
        for key in ("num_randomizations", "shots_per_randomization"):
            learning[key] = learning[key] or "auto"
        layer_noise = tree.pop("layer_noise")  # qrt_runner's own: shown where PEC or PEA use it, as before
        if self.needs_layer_noise and layer_noise["source"] != "device":
            tree["layer_noise"] = layer_noise if layer_noise["source"] == "learned" else {"source": "file"}
        return tree


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


def readout_calibration(learning) -> tuple[int, int]:
    """The Sampler's readout calibration (randomisations, shots per randomisation) from
    ``measure_noise_learning`` (the config's or the options'): unset is its fixed 32 x 128."""
    return (
        _pick(learning.num_randomizations, DEFAULT_RANDOMIZATIONS),
        _pick(learning.shots_per_randomization, DEFAULT_CALIBRATION_SHOTS_PER_RANDOMIZATION),
    )


def _measure_noise_learning(learning: ms.MeasureNoiseLearningConfig, primitive: str) -> MeasureNoiseLearningOptions:
    """The TREX calibration's size; unset stays IBM's "auto" for the Estimator (see
    :class:`MeasureNoiseLearningOptions`), and is the readout calibration's fixed 32 x 128 for
    the Sampler."""
    if primitive == "sampler":
        return MeasureNoiseLearningOptions(*readout_calibration(learning))
    return MeasureNoiseLearningOptions(learning.num_randomizations, learning.shots_per_randomization)


def finalize(
    config: ms.MitigationConfig, *, primitive: str = "estimator", service: bool = False
) -> EffectiveMitigation:
    """Fill unset fields from the resilience level and check the combination; for IBM's
    service (``service``), qrt_runner's own unset leaves take what the service does (the shots
    split equally among noise factors, the first successful extrapolator taken).

    Raises:
        ConfigError: for out-of-range values (the schema's declared constraints), refused
            combinations and techniques not built yet.
    """
    check_declared("mitigation", config)
    level = config.resilience_level
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
    if zne and amplifier == "pea" and res.zne.randomization_allocation == "inverse_factor":
        raise ConfigError(
            "mitigation.resilience.zne.randomization_allocation",
            "inverse_factor",
            "PEA samples its injected noise once per randomisation, so every noise factor needs all of them",
            "set it to equal or null with the pea amplifier",
        )
    factors = tuple(float(f) for f in _pick(res.zne.noise_factors, DEFAULT_NOISE_FACTORS))
    if len(factors) < 2:
        raise ConfigError(
            "mitigation.resilience.zne.noise_factors",
            list(factors),
            "needs at least two factors (a factor k folds each gate (k-1)/2 times)",
            "e.g. [1, 3, 5]",
        )
    extrapolators = tuple(_pick(res.zne.extrapolator, DEFAULT_EXTRAPOLATORS))
    for name in extrapolators:
        if degrees_of_freedom(name) >= len(factors):
            raise ConfigError(
                "mitigation.resilience.zne.extrapolator",
                name,
                f"needs more than {degrees_of_freedom(name)} noise factors, got {len(factors)}",
                "add noise factors or pick a simpler extrapolator",
            )
    extrapolated = tuple(float(f) for f in _pick(res.zne.extrapolated_noise_factors, (0.0, *factors)))
    choice = _pick(res.zne.extrapolator_choice, "order" if service else "uncertainty")
    randomizations = _pick(twirl.num_randomizations, DEFAULT_RANDOMIZATIONS)
    strategy = _pick(twirl.strategy, "active-accum")
    dd_enable = _pick(dd.enable, False)
    dd_sequence = _pick(dd.sequence_type, "XX")
    noise_gain = _noise_gain(res.pec.noise_gain)
    layer_noise = _layer_noise(config)
    layer_noise_model = layer_noise.file
    if layer_noise_model is not None:
        _check_layer_noise_file(layer_noise_model)
    slack = _pick(dd.extra_slack_distribution, "middle")
    scheduling = _pick(dd.scheduling_method, "alap")
    max_overhead = _pick(res.pec.max_overhead, 100.0)
    return EffectiveMitigation(
        resilience_level=level,
        resilience=ResilienceOptions(
            measure_mitigation=bool(measure_mitigation),
            measure_noise_learning=_measure_noise_learning(res.measure_noise_learning, primitive),
            zne_mitigation=bool(zne),
            zne=ZneOptions(
                amplifier=amplifier,
                noise_factors=factors,
                extrapolator=extrapolators,
                extrapolated_noise_factors=extrapolated,
                extrapolator_choice=choice,
                extrapolate_per_term=bool(_pick(res.zne.extrapolate_per_term, True)),
                shot_allocation=_pick(res.zne.shot_allocation, "equal" if service else "inverse_sqrt"),
                randomization_allocation=_pick(res.zne.randomization_allocation, "equal"),
            ),
            pec_mitigation=bool(pec),
            pec=PecOptions(max_overhead=max_overhead, noise_gain=noise_gain),
            layer_noise_model=layer_noise_model,
            nearest_probability=bool(_pick(res.nearest_probability, True)),
        ),
        twirling=TwirlingOptions(
            enable_gates=bool(enable_gates),
            enable_measure=bool(enable_measure),
            num_randomizations=randomizations,
            shots_per_randomization=twirl.shots_per_randomization,
            strategy=strategy,
            num_randomizations_auto=twirl.num_randomizations is None,
            dressing_noise=bool(_pick(twirl.dressing_noise, False)),
        ),
        dynamical_decoupling=DynamicalDecouplingOptions(
            enable=bool(dd_enable),
            sequence_type=dd_sequence,
            extra_slack_distribution=slack,
            scheduling_method=scheduling,
            skip_reset_qubits=bool(_pick(dd.skip_reset_qubits, False)),
        ),
        layer_noise=layer_noise,
    )


def _layer_noise(config: ms.MitigationConfig) -> LayerNoiseOptions:
    """``layer_noise`` resolved: the source (null: file when one is named, else device) and its file."""
    chosen = config.layer_noise
    named = [f for f in (chosen.file, config.resilience.layer_noise_model) if f is not None]
    if len(set(named)) > 1:
        raise ConfigError(
            "mitigation.layer_noise.file",
            chosen.file,
            f"differs from mitigation.resilience.layer_noise_model={config.resilience.layer_noise_model}",
            "name the layer noise model file once",
        )
    file = named[0] if named else None
    source = chosen.source or ("file" if file is not None else "device")
    if source == "file" and file is None:
        raise ConfigError(
            "mitigation.layer_noise.source",
            source,
            "needs a layer noise model file",
            "add mitigation.layer_noise.file=<model.json>, or use source=device or source=learned",
        )
    if source != "file" and file is not None:
        raise ConfigError(
            "mitigation.layer_noise.source",
            source,
            f"does not read a file, but {file} is named",
            "use mitigation.layer_noise.source=file, or drop the file",
        )
    depths = tuple(int(d) for d in chosen.layer_pair_depths)
    if len(set(depths)) < 2:
        raise ConfigError(
            "mitigation.layer_noise.layer_pair_depths",
            list(depths),
            "needs at least two different depths (each Pauli's decay is fitted over them)",
            "e.g. [0, 1, 2, 4, 16, 32] (IBM's default)",
        )
    return LayerNoiseOptions(
        source=source,
        file=file,
        layer_pair_depths=depths,
        num_randomizations=chosen.num_randomizations,
        shots_per_randomization=chosen.shots_per_randomization,
        max_layers_to_learn=chosen.max_layers_to_learn,
    )
