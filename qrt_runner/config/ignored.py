"""Inputs a run would not use are refused, not silently dropped.

The sampler measures the circuit itself (no observables); ``task=qaoa`` measures its own MaxCut
cost (no observables either); ``task=vqe`` and ``task=qaoa`` choose the parameter values
themselves (no ``circuit.parameter_values`` sweep). A config that gives such inputs anyway would
run, log them as if they mattered, and mean something else than its author thinks.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

from omegaconf import DictConfig, OmegaConf

from qrt_runner.config import schema as s
from qrt_runner.errors import ConfigError

if TYPE_CHECKING:
    from qrt_runner.config.spec import RunSpec

__all__ = ["refuse_ignored"]


def refuse_ignored(spec: RunSpec) -> None:
    """Refuse observables or parameter values that ``spec``'s run would ignore.

    Raises:
        ConfigError: naming the ignored key and what to change.
    """
    _observables(spec)
    _parameter_values(spec)


def _observables(spec: RunSpec) -> None:
    """The packaged default observables (what plain ``qrt-run`` measures, chosen by
    ``experiment=default``) are not the user's choice: ``qrt-run primitive=sampler`` still runs."""
    if spec.observables.name == "none" or _is_packaged_default(spec.observables):
        return
    if not spec.is_estimator:
        problem, fix = "the sampler measures the circuit itself and would ignore them", " or use primitive=estimator"
    elif spec.task.name == "qaoa":
        problem, fix = "task=qaoa measures its own MaxCut cost (from circuit.edges) and would ignore them", ""
    else:
        return
    raise ConfigError("observables", spec.observables.name, problem, f"drop them with observables=none{fix}")


def _parameter_values(spec: RunSpec) -> None:
    """One set (``kind=one``, or one random draw: the circuit options' defaults) is left alone."""
    task = spec.task.name
    pv = spec.circuit.parameter_values
    if task in ("vqe", "qaoa") and (pv.kind in ("list", "grid") or (pv.kind == "random" and pv.num_sets > 1)):
        raise ConfigError(
            "circuit.parameter_values.kind",
            pv.kind,
            f"task={task} chooses the parameter values itself (from task.initial_point) and would ignore these",
            "remove the circuit.parameter_values settings, or evaluate them with task=evaluate or task=scan",
        )


@lru_cache(maxsize=1)
def _packaged_paulis() -> list[str]:
    """The terms of the shipped ``observables=paulis`` option (``conf/observables/paulis.yaml``)."""
    from importlib.resources import files

    node = OmegaConf.create(files("qrt_runner.conf").joinpath("observables", "paulis.yaml").read_text())
    terms = node.get("terms") if isinstance(node, DictConfig) else None
    return [str(term) for term in terms or []]


def _is_packaged_default(observables: s.ObservablesConfig) -> bool:
    return isinstance(observables, s.PauliObservables) and list(observables.terms) == _packaged_paulis()
