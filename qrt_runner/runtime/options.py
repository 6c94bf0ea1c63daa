"""``primitive.options``: qiskit-ibm-runtime's option tree, every implemented leaf applied.

``estimator.options.resilience_level = 2``, ``estimator.options.resilience.zne.noise_factors =
(1, 3, 5)``, ``options.update(default_shots=1024, twirling={"enable_gates": True})``: the same
paths as ``qiskit_ibm_runtime.EstimatorOptions`` / ``SamplerOptions``. The mitigation subtree is
qrt_runner's own :class:`~qrt_runner.config.schema.MitigationConfig` (the leaf names are IBM's),
so every option set here is what the local primitives apply. An option IBM has and qrt_runner does
not implement raises :class:`UnsupportedOption` naming it; a name IBM does not have raises
``AttributeError``.
"""

from __future__ import annotations

import dataclasses
from typing import Any, cast

from qrt_runner.config import schema as s
from qrt_runner.execution.ibm import set_fields

__all__ = ["EstimatorOptions", "SamplerOptions", "UnsupportedOption"]

# IBM's leaves that qrt_runner does not implement (setting one raises; reading gives None).
_UNSUPPORTED = {
    "resilience.layer_noise_learning": "qrt_runner derives each layer's noise from the fake device (or reads "
    "resilience.layer_noise_model), it does not learn it",
    "environment.private": "there is no service to keep a job private from",
    "environment.callback": "jobs run locally; poll job.status() instead",
    "execution.init_qubits": "the simulator always starts from |0>",
    "execution.rep_delay": "the simulator has no repetition delay",
    "execution.meas_type": "the simulator returns classified bits only",
    "experimental": "no experimental options are implemented",
    "seed_estimator": "set simulator.seed_simulator: it seeds the simulator and every random draw of the job",
    "simulator.noise_model": "the noise is the fake device's own (choose the device as the mode)",
    "simulator.basis_gates": "the basis gates are the device's",
    "simulator.coupling_map": "the coupling map is the device's",
}


class UnsupportedOption(AttributeError):
    """An option of qiskit-ibm-runtime that qrt_runner does not implement."""


class _Node:
    """One subtree of options: attribute access to a dataclass's fields, validated on set."""

    def __init__(self, data: Any, path: str, owner: _Options) -> None:
        object.__setattr__(self, "_data", data)
        object.__setattr__(self, "_path", path)
        object.__setattr__(self, "_owner", owner)

    def __getattr__(self, name: str) -> Any:
        path = f"{self._path}.{name}" if self._path else name
        if name.startswith("_"):
            raise AttributeError(name)
        if path in _UNSUPPORTED:
            return None
        names = {f.name for f in dataclasses.fields(self._data)}
        if name not in names:
            raise AttributeError(f"options.{path}: no such option (the names are qiskit-ibm-runtime's)")
        value = getattr(self._data, name)
        return _Node(value, path, self._owner) if dataclasses.is_dataclass(value) else value

    def __setattr__(self, name: str, value: Any) -> None:
        path = f"{self._path}.{name}" if self._path else name
        if path in _UNSUPPORTED:
            if value == getattr(self._data, name, None):  # its default (an IBM options object carries them)
                return
            raise UnsupportedOption(f"options.{path} is not supported by qrt_runner: {_UNSUPPORTED[path]}")
        names = {f.name for f in dataclasses.fields(self._data)}
        if name not in names:
            raise AttributeError(f"options.{path}: no such option (the names are qiskit-ibm-runtime's)")
        current = getattr(self._data, name)
        if dataclasses.is_dataclass(current):
            _Node(current, path, self._owner).update(**_as_dict(value, path))
            return
        setattr(self._data, name, _unset(value))

    def update(self, **kwargs: Any) -> None:
        """Set several options at once; nested dicts set nested options (IBM's ``update``)."""
        for key, value in kwargs.items():
            setattr(self, key, value)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({_plain(self._data)})"


@dataclasses.dataclass
class _Environment:
    job_tags: list | None = None
    log_level: str = "WARNING"
    private: bool = False
    callback: Any = None


@dataclasses.dataclass
class _Simulator:
    seed_simulator: int | None = None
    noise_model: Any = None
    basis_gates: Any = None
    coupling_map: Any = None


@dataclasses.dataclass
class _Execution:
    init_qubits: bool = True
    rep_delay: float | None = None
    meas_type: str = "classified"


@dataclasses.dataclass
class _CommonTree:
    """The options both of IBM's primitives have."""

    max_execution_time: float | None = None
    twirling: s.TwirlingConfig = dataclasses.field(default_factory=s.TwirlingConfig)
    dynamical_decoupling: s.DynamicalDecouplingConfig = dataclasses.field(default_factory=s.DynamicalDecouplingConfig)
    environment: _Environment = dataclasses.field(default_factory=_Environment)
    simulator: _Simulator = dataclasses.field(default_factory=_Simulator)
    execution: _Execution = dataclasses.field(default_factory=_Execution)
    experimental: Any = None


@dataclasses.dataclass
class _EstimatorTree(_CommonTree):
    default_precision: float = 0.015625
    default_shots: int | None = None
    resilience_level: int = 1
    resilience: s.ResilienceConfig = dataclasses.field(default_factory=s.ResilienceConfig)
    seed_estimator: Any = None


@dataclasses.dataclass
class _SamplerTree(_CommonTree):
    default_shots: int = 4096


class _Options(_Node):
    _tree: type = _EstimatorTree

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(self._tree(), "", self)
        self.update(**kwargs)

    def mitigation(self) -> s.MitigationConfig:
        """The mitigation options as qrt_runner's config (unset leaves are filled by the level)."""
        data = self._data
        if isinstance(data, _SamplerTree):
            return s.MitigationConfig(
                0,
                s.ResilienceConfig(),
                dataclasses.replace(data.twirling),
                dataclasses.replace(data.dynamical_decoupling),
            )
        return s.MitigationConfig(
            data.resilience_level,
            _copy(data.resilience),
            dataclasses.replace(data.twirling),
            dataclasses.replace(data.dynamical_decoupling),
        )


class EstimatorOptions(_Options):
    """The Estimator's options, by qiskit-ibm-runtime's names (IBM's default: resilience level 1)."""

    _tree = _EstimatorTree


class SamplerOptions(_Options):
    """The Sampler's options, by qiskit-ibm-runtime's names (no resilience levels, as IBM's)."""

    _tree = _SamplerTree


def coerce_options(options: Any, kind: type[_Options]) -> _Options:
    """Options given as None, a dict, qrt_runner's options or qiskit-ibm-runtime's options object."""
    if isinstance(options, kind):
        return options
    if options is None:
        return kind()
    return kind(**_as_dict(options, ""))


def _as_dict(value: Any, path: str) -> dict:
    if isinstance(value, dict):
        return value
    if isinstance(value, _Node):
        return _plain(value._data)
    if dataclasses.is_dataclass(value):  # qiskit-ibm-runtime's options are (pydantic) dataclasses
        # an instance; a dataclass type given by mistake is left to asdict() to refuse, as before
        instance = cast(Any, value)
        return set_fields({k: v for k, v in dataclasses.asdict(instance).items() if not k.startswith("_")})
    raise TypeError(f"options.{path or '(all)'}: give a dict or an options object, not {type(value).__name__}")


def _unset(value: Any) -> Any:
    return None if type(value).__name__ == "UnsetType" else (list(value) if isinstance(value, tuple) else value)


def _plain(data: Any) -> dict:
    return {
        f.name: (_plain(v) if dataclasses.is_dataclass(v := getattr(data, f.name)) else v)
        for f in dataclasses.fields(data)
    }


def _copy(data: Any) -> Any:
    return type(data)(
        **{
            f.name: (_copy(v) if dataclasses.is_dataclass(v := getattr(data, f.name)) else v)
            for f in dataclasses.fields(data)
        }
    )
