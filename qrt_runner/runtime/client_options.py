"""The client-side primitives' options (IBM's ``options_models``) as qrt_runner's drop-in options.

After IBM's finalization (the resilience level's defaults, the twirling that TREX, PEC and PEA
force), every leaf of the options model is one of three things: applied (copied to the same path
of :class:`~qrt_runner.runtime.options.EstimatorOptions` / ``SamplerOptions``, which the
mitigation engine runs, as for ``EstimatorV2``), accepted only at the values that change nothing
here (``ACCEPTED``), or refused: :class:`~qrt_runner.runtime.validation.UnsupportedOption` naming
the leaf and why. A leaf this module does not know (a newer qiskit-ibm-runtime's) is refused too.
``resilience.layer_noise_model`` becomes a layer noise model file
(:mod:`qrt_runner.runtime.layer_models`).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel
from qiskit import QuantumCircuit

from qrt_runner.runtime.layer_models import layer_model_file
from qrt_runner.runtime.options import EstimatorOptions as DropInEstimatorOptions
from qrt_runner.runtime.options import SamplerOptions as DropInSamplerOptions
from qrt_runner.runtime.validation import UnsupportedOption

__all__ = ["ACCEPTED", "APPLIED", "estimator_dropin_options", "sampler_dropin_options", "uses_layer_noise"]

_TWIRLING = ("enable_gates", "enable_measure", "num_randomizations", "shots_per_randomization", "strategy")
_DD = ("enable", "sequence_type", "extra_slack_distribution", "scheduling_method", "skip_reset_qubits")
_ZNE = ("amplifier", "noise_factors", "extrapolator", "extrapolated_noise_factors")
# Leaves applied as the drop-in applies the same path.
APPLIED = frozenset(
    [
        "default_precision",
        "default_shots",
        "resilience_level",
        "max_execution_time",
        "environment.log_level",
        "environment.job_tags",
        "simulator.seed_simulator",
        "resilience.measure_mitigation",
        "resilience.measure_noise_learning.num_randomizations",
        "resilience.zne_mitigation",
        "resilience.pec_mitigation",
        "resilience.pec.max_overhead",
        "resilience.pec.noise_gain",
        *(f"twirling.{name}" for name in _TWIRLING),
        *(f"dynamical_decoupling.{name}" for name in _DD),
        *(f"resilience.zne.{name}" for name in _ZNE),
    ]
)
# Leaves accepted at the values that change nothing here: path -> (values, why others are refused).
ACCEPTED: dict[str, tuple[tuple, str]] = {
    "experimental": (({},), "no experimental options are implemented"),
    "environment.private": ((False,), "there is no service to keep a job private from"),
    "environment.max_execution_time": ((None,), "IBM deprecated it: set max_execution_time at the top level"),
    "environment.image": ((None,), "there is no service image to choose; the simulator is the installed qiskit-aer"),
    "execution.init_qubits": ((True,), "the simulator always starts from |0>"),
    "execution.rep_delay": ((None,), "the simulator has no repetition delay"),
    "execution.scheduler_timing": ((False,), "the simulator reports no schedule timing"),
    "execution.stretch_values": ((False,), "the simulator resolves no stretches"),
    "execution.meas_type": (("classified",), "the simulator returns classified bits only"),
    "twirling.group": (("pauli",), "qrt_runner twirls with the Pauli group only"),
    "simulator.angle_decimals": (
        (5,),
        "qrt_runner chooses the simulation method itself and does not round the circuit's angles",
    ),
    "simulator.layer_noise_model": (
        (None, []),
        "the simulated noise is the fake device's own; qrt_runner injects no extra layer noise "
        "(IBM's local mode does, from resilience.layer_noise_model unless this is [])",
    ),
    "simulator.warn_absent": ((True,), "it only concerns simulator.layer_noise_model, which is refused"),
}
_AUTO_IS_UNSET = {
    "resilience.zne.noise_factors",
    "resilience.zne.extrapolated_noise_factors",
    "resilience.measure_noise_learning.num_randomizations",
}


def estimator_dropin_options(
    finalized: BaseModel, circuits: Sequence[QuantumCircuit] | None = None
) -> DropInEstimatorOptions:
    """The drop-in Estimator options that a finalized client-side ``EstimatorOptions`` stands for.

    ``circuits`` (the PUBs' ISA circuits) are needed to place a given ``resilience.layer_noise_model``.

    Raises:
        UnsupportedOption: a leaf set to a value qrt_runner cannot honour (one line naming it).
        ValueError: a layer noise model that misses a layer of the circuits.
    """
    tree = _tree(finalized, skip={"resilience.layer_noise_model"})
    if not finalized.resilience.measure_mitigation:  # type: ignore[attr-defined]
        tree["resilience"].pop("measure_noise_learning", None)  # unused without TREX, as IBM's
    model = finalized.resilience.layer_noise_model  # type: ignore[attr-defined]
    if model is not None and uses_layer_noise(finalized):  # only PEC and PEA read it
        tree.setdefault("resilience", {})["layer_noise_model"] = layer_model_file(model, list(circuits or []))
    options = DropInEstimatorOptions()
    options.update(**tree)
    return options


def uses_layer_noise(finalized: Any) -> bool:
    """Whether the finalized options run PEC or PEA (the techniques that act on a layer noise model)."""
    resilience = finalized.resilience
    return bool(resilience.pec_mitigation or (resilience.zne_mitigation and resilience.zne.amplifier == "pea"))


def sampler_dropin_options(finalized: BaseModel) -> DropInSamplerOptions:
    """The drop-in Sampler options that a finalized client-side ``SamplerOptions`` stands for."""
    options = DropInSamplerOptions()
    options.update(**_tree(finalized, skip=set()))
    return options


def _tree(model: BaseModel, skip: set[str]) -> dict:
    """The applied leaves as a nested dict; every other leaf checked against ``ACCEPTED``."""
    out: dict[str, Any] = {}
    for path, value in _leaves(model, ""):
        if path in skip:
            continue
        if path in APPLIED:
            if path in _AUTO_IS_UNSET and value == "auto":
                value = None
            elif path == "resilience.pec.max_overhead" and value is None:  # IBM's None: no maximum
                value = sys.float_info.max
            node = out
            *parents, name = path.split(".")
            for parent in parents:
                node = node.setdefault(parent, {})
            node[name] = list(value) if isinstance(value, tuple) else value
        elif path in ACCEPTED:
            values, why = ACCEPTED[path]
            if value not in values:
                raise UnsupportedOption(f"options.{path}={value!r} is not supported by qrt_runner: {why}")
        else:
            raise UnsupportedOption(
                f"options.{path}={value!r} is not supported by qrt_runner: it has no counterpart here"
            )
    return out


def _leaves(model: BaseModel, prefix: str):
    for name in type(model).model_fields:
        value = getattr(model, name)
        path = f"{prefix}{name}"
        if isinstance(value, BaseModel):
            yield from _leaves(value, path + ".")
        else:
            yield path, value
