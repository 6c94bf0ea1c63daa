"""The one place where untyped config becomes a typed, validated :class:`RunSpec`.

Hydra's structured schemas already refuse unknown keys and wrong types; this module checks
ranges and cross-group consistency, and names the key and the fix in every error.
"""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass, field, replace
from typing import Any

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from qrt_runner.config import schema as s
from qrt_runner.config.ignored import refuse_ignored
from qrt_runner.config.objective import Objective, parse_objective
from qrt_runner.config.placement import place_kicked_ising
from qrt_runner.config.workload_checks import one_of, positive_int, validate_circuit, validate_task
from qrt_runner.errors import ConfigError
from qrt_runner.execution.backends import kind_of
from qrt_runner.execution.method_choice import METHODS, NOISE_FORMS
from qrt_runner.mitigation.options import EffectiveMitigation, finalize
from qrt_runner.primitives.precision import shots_for_precision

PRIMITIVES = ("estimator", "sampler")
SESSION_MODES = ("job", "session", "batch")
AER_METHODS = METHODS


@dataclass(frozen=True)
class RunSpec:
    """A validated experiment: one typed object per config group."""

    seed: int
    circuit: s.CircuitConfig
    observables: s.ObservablesConfig
    primitive: s.PrimitiveConfig
    backend: s.BackendConfig | s.IbmBackendConfig
    transpile: s.TranspileConfig
    session: s.SessionConfig
    mitigation: s.MitigationConfig
    tracking: s.TrackingConfig
    task: s.TaskConfig = field(default_factory=s.EvaluateTask)
    objective: Objective | None = None

    @property
    def is_estimator(self) -> bool:
        return self.primitive.name == "estimator"

    @property
    def effective_mitigation(self) -> EffectiveMitigation:
        """The mitigation options with resilience-level defaults filled in."""
        return finalize(self.mitigation, primitive=self.primitive.name)

    @property
    def shots(self) -> int:
        """Shots per circuit (sampler) or per measurement basis (estimator; 0 = exact)."""
        if self.primitive.default_shots is not None:
            return self.primitive.default_shots
        return shots_for_precision(getattr(self.primitive, "default_precision", 0.0))


def resolve_config(cfg: DictConfig) -> dict[str, Any]:
    """The resolved config as plain containers (interpolations filled in), minus ``hydra``."""
    try:
        # omegaconf types the result as any container, whatever the input: a DictConfig gives a dict
        data: dict[str, Any] = OmegaConf.to_container(cfg, resolve=True, throw_on_missing=True)  # type: ignore[assignment]
    except OmegaConfBaseException as exc:
        key = getattr(exc, "full_key", None) or "config"
        raise ConfigError(
            key, "???", "has no value", f"set {key}=... on the command line or in your experiment"
        ) from None
    data.pop("hydra", None)
    return data


def build_spec(cfg: DictConfig) -> RunSpec:
    """Validate a composed config and return its typed form.

    Raises:
        ConfigError: naming the first offending key, its value and what to change.
    """
    _check_known_keys(cfg, "")
    resolve_config(cfg)
    groups: dict[str, Any] = {}
    for key in s.GROUPS:
        node = cfg.get(key)
        if node is None:
            raise ConfigError(key, None, "config group is missing", f"choose one with {key}=<option>")
        groups[key] = OmegaConf.to_object(node)
    spec = RunSpec(seed=int(cfg.seed), **groups)
    _validate(spec)
    spec = place_kicked_ising(spec)
    objective = parse_objective(cfg.get("objective", "auto"), spec.task.name, spec.primitive.name)
    return replace(spec, objective=objective)


def _check_known_keys(node: Any, key: str) -> None:
    """Refuse keys that no schema declares, however they arrived (``+key=...``, an overlay, a
    typo in a nested key): Hydra's ``+`` adds keys even to structured configs."""
    from dataclasses import fields, is_dataclass

    schema = OmegaConf.get_type(node)
    if not is_dataclass(schema):
        return  # a free-form mapping (circuit.kwargs, parameter_values.grid)
    allowed = {item.name for item in fields(schema)} | ({"hydra"} if not key else set())
    for name in node.keys():
        full = f"{key}.{name}" if key else str(name)
        if name not in allowed:
            container = OmegaConf.to_container(node, resolve=False)
            assert isinstance(container, dict)  # node is a DictConfig (its schema is a dataclass)
            value = container.get(name)
            close = difflib.get_close_matches(str(name), sorted(allowed), n=1)
            hint = f"did you mean {f'{key}.' if key else ''}{close[0]}? " if close else ""
            raise ConfigError(
                full, value, "unknown key", f"{hint}remove it (qrt-run <overrides> --cfg job lists every key)"
            )
        child = node._get_node(name)
        if isinstance(child, DictConfig) and not child._is_none():
            _check_known_keys(child, full)


def _validate(spec: RunSpec) -> None:
    if spec.seed < 0:
        raise ConfigError("seed", spec.seed, "must be >= 0", "set seed to a non-negative integer")
    _validate_numbers(spec)
    _validate_names(spec)
    _validate_tracking(spec.tracking)
    validate_circuit(spec.circuit)
    _validate_primitive(spec)
    _validate_backend(spec)
    _validate_transpile(spec.transpile)
    _validate_session(spec.session)
    effective = finalize(spec.mitigation, primitive=spec.primitive.name)
    kind = kind_of(spec.backend)
    if effective.dynamical_decoupling.enable and not kind.has_device:
        raise ConfigError(
            "mitigation.dynamical_decoupling.enable",
            True,
            "needs a device's instruction durations, and backend=aer has none",
            "use backend=fake_<device>, or turn decoupling off",
        )
    if effective.needs_layer_noise and effective.resilience.layer_noise_model is None and not kind.has_device:
        raise ConfigError(
            "mitigation.resilience.layer_noise_model",
            None,
            f"{'PEC' if effective.resilience.pec_mitigation else 'PEA'} needs a layer noise model, and backend=aer is noiseless",
            "use backend=fake_<device>, or give mitigation.resilience.layer_noise_model=<file>",
        )
    _validate_local_only_mitigation(spec)
    if effective.resilience.layer_noise_model is not None and not kind.local:
        raise ConfigError(
            "mitigation.resilience.layer_noise_model",
            effective.resilience.layer_noise_model,
            "layer noise model files are for local backends; the hardware service learns the layer noise itself",
            "remove it (set it to null) for backend=ibm",
        )
    if effective.active and spec.is_estimator and spec.shots == 0:
        raise ConfigError(
            "mitigation.resilience_level",
            spec.mitigation.resilience_level,
            "mitigation works on measured shots, not exact values",
            "set primitive.default_precision > 0 (e.g. 0.015625), or use mitigation=none",
        )
    validate_task(spec)
    refuse_ignored(spec)
    if spec.is_estimator and spec.observables.name == "none" and spec.task.name != "qaoa":
        raise ConfigError(
            "observables",
            "none",
            "the estimator needs observables",
            "choose observables=paulis (with observables.terms=[...]), ising, heisenberg or h2",
        )


MIN_PRECISION = 2**-31  # 1/precision² shots: 2**62 at this precision (a 64-bit count), inf or 1/0 far below
MAX_SEED = 2**62  # the simulator takes 64-bit seeds, and job i of a run uses seed_simulator + i


def _validate_numbers(spec: RunSpec) -> None:
    """Every number in the spec is finite (NaN and infinity are refused wherever they appear), and
    every seed is one the simulator accepts."""
    for key, value in _leaves(spec, ""):
        if isinstance(value, float) and not math.isfinite(value):
            raise ConfigError(key, value, "must be a finite number", f"set {key} to a finite number")
        if key.rpartition(".")[2].startswith("seed") and isinstance(value, int) and not 0 <= value <= MAX_SEED:
            raise ConfigError(
                key,
                value,
                f"must be between 0 and 2**62 ({MAX_SEED})",
                f"set {key} to a non-negative integer below 2**62",
            )


def _leaves(value: Any, key: str):
    """``(dotted key, value)`` of every number (and seed) inside a spec's dataclasses, lists and dicts."""
    from dataclasses import fields, is_dataclass

    if is_dataclass(value) and not isinstance(value, type):
        for item in fields(value):
            if item.name != "objective":
                yield from _leaves(getattr(value, item.name), f"{key}.{item.name}" if key else item.name)
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            yield from _leaves(item, f"{key}[{index}]")
    elif isinstance(value, dict):
        for name, item in value.items():
            yield from _leaves(item, f"{key}.{name}")
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        yield key, value


MAX_TIMEOUT_S = 86_400  # a store call's deadline; far beyond it the clock arithmetic overflows
_TRACKING_SCHEMES = ("sqlite:///", "file:", "http://", "https://", "databricks", "postgresql", "mysql", "mssql")


def _validate_tracking(tracking: s.TrackingConfig) -> None:
    if not tracking.enabled:
        return
    uri = tracking.uri.strip()
    if not uri or ("://" in uri and not uri.startswith(_TRACKING_SCHEMES)):
        raise ConfigError(
            "tracking.uri",
            tracking.uri,
            "is not a tracking store MLflow can use",
            "use sqlite:///mlflow.db, file:./mlruns or http://host:5000 (or tracking=none)",
        )
    if not tracking.experiment_name.strip():
        raise ConfigError(
            "tracking.experiment_name",
            tracking.experiment_name,
            "is empty",
            "give the experiment a name, e.g. tracking.experiment_name=qrt_runner",
        )
    if not 0 < tracking.timeout_s <= MAX_TIMEOUT_S:
        raise ConfigError(
            "tracking.timeout_s",
            tracking.timeout_s,
            f"must be > 0 and at most {MAX_TIMEOUT_S} seconds (a day)",
            "set a time limit for each call to the store, e.g. 10",
        )


def _validate_names(spec: RunSpec) -> None:
    """Each group's ``name`` is the option chosen for it: ``circuit.name=qft`` on top of
    ``circuit=ghz`` would run the GHZ schema's values through another builder."""
    from qrt_runner.execution.fake_backends import fake_backend_names

    for group in ("circuit", "observables", "primitive", "task"):
        value = getattr(spec, group)
        expected = type(value)().name
        if value.name != expected:
            raise ConfigError(
                f"{group}.name",
                value.name,
                f"does not match the chosen {group} option ({expected})",
                f"choose the option instead: {group}={value.name} (and leave {group}.name alone)",
            )
    backend = spec.backend
    ibm_schema = isinstance(backend, s.IbmBackendConfig)
    if (backend.name == "ibm") != ibm_schema or (
        not ibm_schema and backend.name != "aer" and backend.name not in fake_backend_names()
    ):
        raise ConfigError(
            "backend.name",
            backend.name,
            "does not match the chosen backend option",
            f"choose the option instead: backend={backend.name} (and leave backend.name alone)",
        )


def _validate_local_only_mitigation(spec: RunSpec) -> None:
    """qrt_runner's own mitigation options: refused where they cannot apply."""
    res = spec.mitigation.resilience
    if not kind_of(spec.backend).local:
        if res.zne.extrapolator_choice == "uncertainty":
            raise ConfigError(
                "mitigation.resilience.zne.extrapolator_choice",
                "uncertainty",
                "the hardware service takes the first successful extrapolator",
                "set it to order or null for backend=ibm",
            )
        if res.zne.extrapolate_per_term is False:
            raise ConfigError(
                "mitigation.resilience.zne.extrapolate_per_term",
                False,
                "the hardware service extrapolates every Pauli term on its own",
                "set it to true or null for backend=ibm",
            )
        if spec.mitigation.twirling.dressing_noise:
            raise ConfigError(
                "mitigation.twirling.dressing_noise",
                True,
                "simulates the error of the hardware's own dressings, which the service runs for real",
                "set it to false or null for backend=ibm",
            )
    if res.nearest_probability is not None and spec.is_estimator:
        raise ConfigError(
            "mitigation.resilience.nearest_probability",
            res.nearest_probability,
            "applies to the sampler's readout-mitigated quasi-distributions",
            "remove it, or use primitive=sampler",
        )


def _validate_primitive(spec: RunSpec) -> None:
    prim = spec.primitive
    one_of("primitive.name", prim.name, PRIMITIVES)
    if prim.default_shots is not None:
        positive_int("primitive.default_shots", prim.default_shots)
    if isinstance(prim, s.SamplerConfig) and prim.default_shots is None:
        raise ConfigError(
            "primitive.default_shots",
            None,
            "the sampler needs a number of shots",
            "set primitive.default_shots, e.g. 4096",
        )
    if isinstance(prim, s.EstimatorConfig):
        if prim.default_precision < 0:
            raise ConfigError(
                "primitive.default_precision",
                prim.default_precision,
                "must be >= 0",
                "set a target standard error such as 0.015625 (0 = exact, ideal aer only)",
            )
        if 0 < prim.default_precision < MIN_PRECISION and prim.default_shots is None:
            raise ConfigError(
                "primitive.default_precision",
                prim.default_precision,
                "would need 1/precision² shots per measurement basis, more than 2^62",
                f"set a precision of at least {MIN_PRECISION:.2g}, or 0 for exact values (backend=aer)",
            )
        noisy = kind_of(spec.backend).has_device and getattr(spec.backend, "noise", "device") != "none"
        if noisy and prim.default_precision == 0 and prim.default_shots is None:
            raise ConfigError(
                "primitive.default_precision",
                0.0,
                f"exact expectation values are only computed without noise (backend=aer), not {spec.backend.name}",
                "set a positive precision such as 0.015625, primitive.default_shots, or backend.noise=none",
            )
    if prim.max_execution_time <= 0:
        raise ConfigError(
            "primitive.max_execution_time",
            prim.max_execution_time,
            "must be > 0 seconds",
            "set a positive time limit in seconds",
        )


def _validate_backend(spec: RunSpec) -> None:
    backend = spec.backend
    if isinstance(backend, s.IbmBackendConfig) and backend.channel == "local":
        from qrt_runner.execution.fake_backends import fake_backend_names

        if backend.device not in fake_backend_names():
            raise ConfigError(
                "backend.device",
                backend.device,
                "backend.channel=local rehearses the hardware path on a fake device",
                "give a fake device, e.g. backend.device=fake_manila",
            )
    if isinstance(backend, s.BackendConfig):
        one_of("backend.method", backend.method, AER_METHODS)
        if not 0 <= backend.max_parallel_threads <= MAX_THREADS:
            raise ConfigError(
                "backend.max_parallel_threads",
                backend.max_parallel_threads,
                f"must be between 0 and {MAX_THREADS}",
                "set 0 (all cores) or a thread count",
            )
        if backend.seed_simulator < 0:
            raise ConfigError(
                "backend.seed_simulator", backend.seed_simulator, "must be >= 0", "set a non-negative seed"
            )
        one_of("backend.noise", backend.noise, NOISE_FORMS)
        device = kind_of(backend).has_device
        if backend.noise == "pauli" and not device:
            raise ConfigError(
                "backend.noise",
                "pauli",
                "backend=aer has no device noise to put in Pauli form",
                "use a fake device (e.g. backend=fake_sherbrooke) or backend.noise=device",
            )
        if device and backend.method == "stabilizer" and backend.noise == "device":
            raise ConfigError(
                "backend.method",
                "stabilizer",
                f"cannot simulate the noise model of {backend.name} (thermal relaxation is not a Pauli channel)",
                "use backend.noise=pauli (its Pauli-twirled form) or backend.method=automatic",
            )
        if device and backend.noise == "none" and spec.effective_mitigation.needs_layer_noise:
            raise ConfigError(
                "backend.noise",
                "none",
                "PEA and PEC act on the device's layer noise model, which backend.noise=none turns off",
                "use backend.noise=device or pauli, or another mitigation",
            )


MAX_THREADS = 2**31 - 1  # Aer takes a C int


def _validate_transpile(transpile: s.TranspileConfig) -> None:
    if transpile.optimization_level not in (0, 1, 2, 3):
        raise ConfigError(
            "transpile.optimization_level",
            transpile.optimization_level,
            "must be 0, 1, 2 or 3",
            "set transpile.optimization_level between 0 and 3",
        )
    if transpile.seed_transpiler < 0:
        raise ConfigError(
            "transpile.seed_transpiler", transpile.seed_transpiler, "must be >= 0", "set a non-negative seed"
        )


def _validate_session(session: s.SessionConfig) -> None:
    one_of("session.mode", session.mode, SESSION_MODES)
    if session.max_time <= 0:
        raise ConfigError(
            "session.max_time", session.max_time, "must be > 0 seconds", "set the session's time limit in seconds"
        )
    if session.interactive_ttl is not None and session.interactive_ttl <= 0:
        raise ConfigError(
            "session.interactive_ttl",
            session.interactive_ttl,
            "must be > 0 seconds, or null",
            "set the seconds without a queued job after which a session pauses, or null for never",
        )
    if session.parameter_sets_per_job < 0:
        raise ConfigError(
            "session.parameter_sets_per_job",
            session.parameter_sets_per_job,
            "must be >= 0",
            "set 0 (one job) or the number of parameter sets per job",
        )
