"""The schemas in Hydra's ConfigStore: one ``base_<option>`` node per group option, one backend
option per fake IBM device, and the interpolations that derive values from other keys.

Every seed (``seed``, ``seed_simulator``, ``seed_transpiler``, the parameter values', the
optimiser's, the initial point's) defaults to ``${seed}``, the root seed, and a model Hamiltonian's
``num_qubits`` to ``${circuit.num_qubits}``: the dataclasses themselves stay plain (importable and
usable without Hydra), these defaults live here, on the config side.
"""

from __future__ import annotations

from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import DictConfig, OmegaConf

from qrt_runner.adapters.omegaconf import child_node
from qrt_runner.config import mitigation_schema as ms
from qrt_runner.config import schema as s
from qrt_runner.execution.fake_backends import fake_backend_names
from qrt_runner.workload.circuits import CIRCUITS
from qrt_runner.workload.observables import OBSERVABLE_MODELS

__all__ = ["register_schemas"]

_SEEDS = {"seed", "seed_simulator", "seed_transpiler"}


def register_schemas() -> None:
    """Register every schema, and one ``backend`` option per fake IBM device."""
    cs = ConfigStore.instance()
    cs.store(name="base_config", node=s.RootConfig)
    for group, registry in (("circuit", CIRCUITS), ("observables", OBSERVABLE_MODELS)):
        for entry in registry:  # each registered option's schema, as base_<name>
            cs.store(group=group, name=f"base_{entry.name}", node=_interpolated(entry.schema()))
    cs.store(group="primitive", name="base_estimator", node=s.EstimatorConfig)
    cs.store(group="primitive", name="base_sampler", node=s.SamplerConfig)
    cs.store(group="backend", name="base_aer", node=_interpolated(s.BackendConfig()))
    cs.store(group="backend", name="base_ibm", node=s.IbmBackendConfig)
    for device in fake_backend_names():
        cs.store(group="backend", name=device, node=_interpolated(s.BackendConfig(name=device)))
    cs.store(group="transpile", name="base_transpile", node=_interpolated(s.TranspileConfig()))
    cs.store(group="session", name="base_session", node=s.SessionConfig)
    cs.store(group="mitigation", name="base_mitigation", node=ms.MitigationConfig)
    cs.store(group="tracking", name="base_tracking", node=s.TrackingConfig)
    for name, schema in s.TASK_SCHEMAS.items():
        cs.store(group="task", name=f"base_{name}", node=_interpolated(schema()))


def _interpolated(instance: Any) -> DictConfig:
    """A structured node of ``instance`` whose seeds follow the root seed and whose model width
    follows the circuit's."""
    node = OmegaConf.structured(instance)
    _derive(node, is_observables=isinstance(instance, s.ObservablesConfig))
    return node


def _derive(node: DictConfig, is_observables: bool) -> None:
    for key in list(node.keys()):
        child = child_node(node, key)
        if isinstance(child, DictConfig):
            _derive(child, False)
        elif key in _SEEDS:
            node[key] = "${seed}"
        elif is_observables and key == "num_qubits":
            node[key] = "${circuit.num_qubits}"
