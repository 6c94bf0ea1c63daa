"""What a run's config must satisfy across fields and groups (each field's own range and allowed
values are declared on the schema: :mod:`~qrt_runner.config.constraints`).

Part of :func:`qrt_runner.config.spec.build_spec`'s validation; each check names the key and the fix.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from qrt_runner.config import schema as s
from qrt_runner.config.ignored import refuse_ignored
from qrt_runner.config.workload_checks import validate_circuit, validate_task
from qrt_runner.errors import ConfigError

if TYPE_CHECKING:
    from qrt_runner.config.spec import RunSpec

__all__ = ["check_consistency"]

MIN_PRECISION = 2**-31  # 1/precision² shots: 2**62 at this precision (a 64-bit count), inf or 1/0 far below
_DATABASE_SCHEMES = ("postgresql", "mysql", "mssql")
_TRACKING_SCHEMES = ("sqlite:///", "file:", "http://", "https://", "databricks", *_DATABASE_SCHEMES)


def check_consistency(spec: RunSpec) -> None:
    """Raises ConfigError for the first rule ``spec`` breaks."""
    _check_finite(spec)
    _check_names(spec)
    _check_tracking(spec.tracking)
    validate_circuit(spec.circuit)
    _check_primitive(spec)
    _check_backend(spec)
    effective = spec.effective_mitigation
    backend = spec.backend
    if effective.dynamical_decoupling.enable and not backend.has_device:
        raise ConfigError(
            "mitigation.dynamical_decoupling.enable",
            True,
            "needs a device's instruction durations, and backend=aer has none",
            "use backend=fake_<device>, or turn decoupling off",
        )
    if effective.needs_layer_noise and effective.resilience.layer_noise_model is None and not backend.has_device:
        raise ConfigError(
            "mitigation.resilience.layer_noise_model",
            None,
            f"{'PEC' if effective.resilience.pec_mitigation else 'PEA'} needs a layer noise model, and backend=aer is noiseless",
            "use backend=fake_<device>, or give mitigation.resilience.layer_noise_model=<file>",
        )
    _check_local_only_mitigation(spec)
    if effective.needs_layer_noise and spec.mitigation.layer_noise.source == "device" and not backend.local:
        raise ConfigError(
            "mitigation.layer_noise.source",
            "device",
            "on hardware the service learns the layer noise itself (with mitigation.layer_noise's learning options)",
            "use mitigation.layer_noise.source=learned, or leave it null, for backend=ibm",
        )
    if effective.resilience.layer_noise_model is not None and not backend.local:
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


def _check_finite(spec: RunSpec) -> None:
    """Every number in the spec is finite, also inside its free-form lists and mappings (parameter
    values, grids, edges, factory arguments), where no field declares it."""
    for key, value in _leaves(spec, ""):
        if isinstance(value, float) and not math.isfinite(value):
            raise ConfigError(key, value, "must be a finite number", f"set {key} to a finite number")


def _leaves(value: Any, key: str):
    """``(dotted key, value)`` of every number inside a spec's dataclasses, lists and dicts."""
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


def _check_tracking(tracking: s.TrackingConfig) -> None:
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
    if uri.startswith(_DATABASE_SCHEMES):
        _check_database_driver(tracking.uri, uri)
    if not tracking.experiment_name.strip():
        raise ConfigError(
            "tracking.experiment_name",
            tracking.experiment_name,
            "is empty",
            "give the experiment a name, e.g. tracking.experiment_name=qrt_runner",
        )


def _check_database_driver(given: str, uri: str) -> None:
    """A database URI whose driver is not installed is bad input (MLflow would fail at the first
    run, which qrt-run reports as a tracking outage that ``qrt-run sync`` cannot mend)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    try:
        make_url(uri).get_dialect().import_dbapi()
    except (ArgumentError, NoSuchModuleError, ValueError) as exc:
        raise ConfigError(
            "tracking.uri", given, f"is not a database URI SQLAlchemy knows ({exc})", _DRIVER_FIX
        ) from None
    except ImportError as exc:
        raise ConfigError(
            "tracking.uri", given, f"needs a database driver that is not installed ({exc})", _DRIVER_FIX
        ) from None


_DRIVER_FIX = (
    "name an installed driver, e.g. postgresql+psycopg2://user@host/db with psycopg2-binary installed "
    "(a bare postgresql:// means psycopg 3 with SQLAlchemy 2.1), or track through an MLflow server (http://host:5000)"
)


def _check_names(spec: RunSpec) -> None:
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


def _check_local_only_mitigation(spec: RunSpec) -> None:
    """qrt_runner's own mitigation options: refused where they cannot apply."""
    res = spec.mitigation.resilience
    if not spec.backend.local:
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
        if res.zne.shot_allocation == "inverse_sqrt":
            raise ConfigError(
                "mitigation.resilience.zne.shot_allocation",
                "inverse_sqrt",
                "the hardware service gives every noise factor the same shots",
                "set it to equal or null for backend=ibm",
            )
        if res.zne.randomization_allocation == "inverse_factor":
            raise ConfigError(
                "mitigation.resilience.zne.randomization_allocation",
                "inverse_factor",
                "the hardware service runs every noise factor with all the twirl's randomisations",
                "set it to equal or null for backend=ibm",
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


def _check_primitive(spec: RunSpec) -> None:
    prim = spec.primitive
    if isinstance(prim, s.SamplerConfig) and prim.default_shots is None:
        raise ConfigError(
            "primitive.default_shots",
            None,
            "the sampler needs a number of shots",
            "set primitive.default_shots, e.g. 4096",
        )
    if isinstance(prim, s.EstimatorConfig):
        if 0 < prim.default_precision < MIN_PRECISION and prim.default_shots is None:
            raise ConfigError(
                "primitive.default_precision",
                prim.default_precision,
                "would need 1/precision² shots per measurement basis, more than 2^62",
                f"set a precision of at least {MIN_PRECISION:.2g}, or 0 for exact values (backend=aer)",
            )
        noisy = spec.backend.has_device and getattr(spec.backend, "noise", "device") != "none"
        if noisy and prim.default_precision == 0 and prim.default_shots is None:
            raise ConfigError(
                "primitive.default_precision",
                0.0,
                f"exact expectation values are only computed without noise (backend=aer), not {spec.backend.name}",
                "set a positive precision such as 0.015625, primitive.default_shots, or backend.noise=none",
            )


def _check_backend(spec: RunSpec) -> None:
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
        if backend.noise == "pauli" and not backend.has_device:
            raise ConfigError(
                "backend.noise",
                "pauli",
                "backend=aer has no device noise to put in Pauli form",
                "use a fake device (e.g. backend=fake_sherbrooke) or backend.noise=device",
            )
        if backend.has_device and backend.method == "stabilizer" and backend.noise == "device":
            raise ConfigError(
                "backend.method",
                "stabilizer",
                f"cannot simulate the noise model of {backend.name} (thermal relaxation is not a Pauli channel)",
                "use backend.noise=pauli (its Pauli-twirled form) or backend.method=automatic",
            )
        if backend.has_device and backend.noise == "none" and spec.effective_mitigation.needs_layer_noise:
            raise ConfigError(
                "backend.noise",
                "none",
                "PEA and PEC act on the device's layer noise model, which backend.noise=none turns off",
                "use backend.noise=device or pauli, or another mitigation",
            )
