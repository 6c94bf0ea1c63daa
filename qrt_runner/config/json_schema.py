"""A JSON Schema of the whole config, for editors that complete and check experiment YAML files.

Built from the same dataclasses and declared constraints that :func:`~qrt_runner.config.spec.build_spec`
checks (Pydantic writes each one's schema): the root keys, ``defaults`` (Hydra's list), and per
config group any of its options' schemas (``circuit`` is a GHZ, QFT, ... circuit's keys). Keys no
option declares are flagged; every value may also be an OmegaConf interpolation (``${seed}``).
Every key is optional: an experiment overlay sets only what it changes.
"""

from __future__ import annotations

from typing import Any

from qrt_runner.config import mitigation_schema as ms
from qrt_runner.config import schema as s

__all__ = ["SCHEMA_ID", "config_json_schema"]

SCHEMA_ID = "https://qrt-runner.dev/schema/config.json"
_INTERPOLATION = {"type": "string", "pattern": r"^\$\{.+\}$", "description": "an OmegaConf interpolation"}


def _group_options() -> dict[str, list[type]]:
    """Each config group's option schemas."""
    from qrt_runner.workload.circuits import CIRCUITS
    from qrt_runner.workload.observables import OBSERVABLE_MODELS

    return {
        "circuit": _unique(entry.schema for entry in CIRCUITS),
        "observables": _unique(entry.schema for entry in OBSERVABLE_MODELS),
        "primitive": [s.EstimatorConfig, s.SamplerConfig],
        "backend": [s.BackendConfig, s.IbmBackendConfig],
        "transpile": [s.TranspileConfig],
        "session": [s.SessionConfig],
        "mitigation": [ms.MitigationConfig],
        "tracking": [s.TrackingConfig],
        "task": _unique(s.TASK_SCHEMAS.values()),
    }


def _unique(schemas) -> list[type]:
    return list(dict.fromkeys(schemas))


def config_json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a composed config and of an experiment overlay."""
    from pydantic import TypeAdapter

    groups = _group_options()
    classes = _unique([s.SweepConfig, *(cls for options in groups.values() for cls in options)])
    refs, definitions = TypeAdapter.json_schemas(
        [(cls, "validation", TypeAdapter(cls)) for cls in classes], ref_template="#/$defs/{model}"
    )
    ref = {cls: refs[(cls, "validation")] for cls in classes}
    for definition in definitions.get("$defs", {}).values():
        _closed_and_interpolable(definition)
    properties: dict[str, Any] = {
        "defaults": {
            "type": "array",
            "description": "Hydra's defaults list: '_self_', or {'override /<group>': '<option>'}",
            "items": {"anyOf": [{"type": "string"}, {"type": "object", "additionalProperties": {"type": "string"}}]},
        },
        "seed": {"anyOf": [{"type": "integer", "minimum": 0, "maximum": 2**62}, _INTERPOLATION]},
        "objective": {"type": "string", "description": "auto, ev:OBS:SET, error:OBS, best_energy, ..."},
        "sweep": ref[s.SweepConfig],
        "hydra": {"type": "object", "description": "Hydra's own settings (sweeper, launcher, run dir)"},
    }
    for group, options in groups.items():
        properties[group] = {"anyOf": [ref[cls] for cls in options]}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "qrt_runner config and experiment overlay",
        "type": "object",
        "properties": properties,
        "additionalProperties": False,
        **definitions,
    }


def _closed_and_interpolable(definition: dict[str, Any]) -> None:
    """A dataclass's object schema: unknown keys refused, and each value may be interpolated."""
    if definition.get("type") != "object" or "properties" not in definition:
        return
    definition["additionalProperties"] = False
    definition.pop("required", None)
    for name, schema in definition["properties"].items():
        definition["properties"][name] = {"anyOf": [schema, _INTERPOLATION]} if "$ref" not in schema else schema
