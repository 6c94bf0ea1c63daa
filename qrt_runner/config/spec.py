"""The one place where untyped config becomes a typed, validated :class:`RunSpec`.

Hydra's structured schemas refuse wrong types, :func:`_check_known_keys` unknown keys (however they
arrived), the fields' declared constraints (:mod:`~qrt_runner.config.constraints`) ranges and
allowed values group by group, and :mod:`~qrt_runner.config.consistency` what involves several
fields or groups. Every error names the key, the value and the fix.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field, replace
from typing import Any

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from qrt_runner.adapters.omegaconf import child_node, is_none_node
from qrt_runner.config import mitigation_schema as ms
from qrt_runner.config import schema as s
from qrt_runner.config.consistency import check_consistency
from qrt_runner.config.constraints import check_declared
from qrt_runner.config.objective import Objective, parse_objective
from qrt_runner.config.placement import place_kicked_ising
from qrt_runner.errors import ConfigError
from qrt_runner.mitigation.options import EffectiveMitigation, finalize
from qrt_runner.primitives.precision import shots_for_precision


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
    mitigation: ms.MitigationConfig
    tracking: s.TrackingConfig
    task: s.TaskConfig = field(default_factory=s.EvaluateTask)
    objective: Objective | None = None

    @property
    def is_estimator(self) -> bool:
        return self.primitive.name == "estimator"

    @property
    def effective_mitigation(self) -> EffectiveMitigation:
        """The mitigation options with resilience-level defaults filled in."""
        return finalize(self.mitigation, primitive=self.primitive.name, service=not self.backend.local)

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
    check_declared("", s.RootConfig(seed=int(cfg.seed)))
    groups: dict[str, Any] = {}
    for key in s.GROUPS:
        node = cfg.get(key)
        if node is None:
            raise ConfigError(key, None, "config group is missing", f"choose one with {key}=<option>")
        groups[key] = OmegaConf.to_object(node)
        check_declared(key, groups[key])
    spec = RunSpec(seed=int(cfg.seed), **groups)
    check_consistency(spec)
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
        child = child_node(node, name)
        if isinstance(child, DictConfig) and not is_none_node(child):
            _check_known_keys(child, full)
