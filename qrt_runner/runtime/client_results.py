"""The client-side Estimator's result, as IBM's: its data fields and job metadata.

Each PUB is IBM's ``EstimatorPubResult``; its ``DataBin`` holds ``evs``, ``stds`` and
``ensemble_standard_error`` (the i.i.d. shot-noise standard error; qrt_runner's ``stds`` is that
same estimate, pooled over the twirls' shots); with ZNE instead of the latter ``evs_noise_factors``, ``stds_noise_factors``,
``ensemble_stds_noise_factors`` (``(*shape, factors)``), ``evs_extrapolated`` and
``stds_extrapolated`` (``(*shape, extrapolators, points)``), each extrapolator fitted to the
noise factors' values and standard errors as the engine fits them. ``result.metadata`` has
IBM's ``options`` (finalized, without the layer noise model or the sub-options of a technique
that is off), ``target_precision`` and ``shots``; qrt_runner's own under ``qrt_runner``. The
Sampler's has ``options`` and ``shots``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from qiskit.primitives import PrimitiveResult
from qiskit.primitives.containers import DataBin, PubResult
from qiskit.primitives.containers.estimator_pub import EstimatorPub
from qiskit_ibm_runtime.results import EstimatorPubResult

from qrt_runner.mitigation.extrapolation import fit

__all__ = ["client_estimator_result", "client_sampler_result"]


def client_estimator_result(
    result: PrimitiveResult, pubs: list[EstimatorPub], finalized: Any, precision: float | None, shots: int
) -> PrimitiveResult:
    """The engine's result for ``pubs`` with IBM's client-side fields and metadata."""
    extrapolators = finalized.resilience.zne.extrapolator
    names = [extrapolators] if isinstance(extrapolators, str) else list(extrapolators)
    if finalized.resilience.layer_noise_model is not None:  # the model given, where PEC or PEA used it
        _check_modelled(result)
    pub_results = [_pub_result(pub, pub_result, names) for pub, pub_result in zip(pubs, result)]
    metadata = {
        "options": _shown_options(finalized),
        "target_precision": precision,
        "shots": shots,
        "qrt_runner": dict(result.metadata),
    }
    return PrimitiveResult(pub_results, metadata=metadata)


def _check_modelled(result: PrimitiveResult) -> None:
    """A given layer noise model must have covered every layer PEC or PEA acted on (the layers of a
    circuit the engine transpiled are not those of ``find_unique_layers``): ValueError otherwise."""
    for number, pub_result in enumerate(result):
        mitigation = pub_result.metadata.get("mitigation")
        model = mitigation.get("layer_noise_model") if isinstance(mitigation, dict) else None
        if isinstance(model, dict) and model.get("num_unmodelled_layers"):
            raise ValueError(
                f"options.resilience.layer_noise_model: {model['num_unmodelled_layers']} layer(s) of PUB {number} "
                "as run have no model (give ISA circuits, transpiled for the backend, to find_unique_layers and run)"
            )


def client_sampler_result(result: PrimitiveResult, finalized: Any, shots: int) -> PrimitiveResult:
    """The engine's Sampler result with IBM's job metadata: ``options`` (finalized) and ``shots``."""
    metadata = {"options": finalized.model_dump(), "shots": shots, "qrt_runner": dict(result.metadata)}
    return PrimitiveResult(list(result), metadata=metadata)


def _shown_options(finalized: Any) -> dict:
    """The finalized options as IBM's result shows them: no layer noise model, and no sub-options
    of a resilience technique that is off."""
    options = finalized.model_dump(exclude={"resilience": {"layer_noise_model"}})
    resilience = options["resilience"]
    for flag, sub in (
        ("zne_mitigation", "zne"),
        ("pec_mitigation", "pec"),
        ("measure_mitigation", "measure_noise_learning"),
    ):
        if not resilience.get(flag):
            resilience.pop(sub, None)
    return options


def _pub_result(pub: EstimatorPub, pub_result: PubResult, extrapolators: list[str]) -> PubResult:
    data, metadata = pub_result.data, dict(pub_result.metadata)
    fields: dict[str, Any] = {"evs": data.evs, "stds": data.stds}
    mitigation = metadata.get("mitigation")
    zne: dict = mitigation if isinstance(mitigation, dict) else {}
    if "evs_noise_factors" in zne:
        fields.update(_zne_fields(pub, zne, extrapolators))
    else:
        fields["ensemble_standard_error"] = data.stds
    return EstimatorPubResult(DataBin(**fields, shape=pub.shape), metadata=metadata)


def _zne_fields(pub: EstimatorPub, zne: dict, extrapolators: list[str]) -> dict[str, np.ndarray]:
    """The per-noise-factor and per-extrapolator arrays, from the engine's ``(sets, observables, ...)``."""
    evs_f = np.asarray(zne["evs_noise_factors"], dtype=float)
    stds_f = np.asarray(zne["stds_noise_factors"], dtype=float)
    factors = np.asarray(zne["noise_factors"], dtype=float)
    at = np.asarray(zne["extrapolated_noise_factors"], dtype=float)
    evs_x = np.asarray(zne["evs_extrapolated"], dtype=float)
    stds_x = np.zeros_like(evs_x)
    for s in range(evs_f.shape[0]):
        for o in range(evs_f.shape[1]):
            for e, name in enumerate(extrapolators):
                stds_x[s, o, e] = fit(name, factors, evs_f[s, o], stds_f[s, o], at).stds
    param_shape = pub.parameter_values.shape
    sets = np.arange(max(1, int(np.prod(param_shape)))).reshape(param_shape) if param_shape else np.array(0)
    observables = np.arange(pub.observables.size).reshape(pub.observables.shape)
    p_idx, o_idx = np.broadcast_arrays(sets, observables)
    return {
        "evs_noise_factors": evs_f[p_idx, o_idx],
        "stds_noise_factors": stds_f[p_idx, o_idx],
        "ensemble_stds_noise_factors": stds_f[p_idx, o_idx],
        "evs_extrapolated": evs_x[p_idx, o_idx],
        "stds_extrapolated": stds_x[p_idx, o_idx],
    }
