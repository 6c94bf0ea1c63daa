"""One estimator PUB's result from the outputs of its plan's simulator task.

:func:`combine` lets the mitigation techniques calibrate on their circuits' outputs, turns the
measured shots into means and covariances of the Pauli terms per noise factor and parameter set,
has the techniques reduce those (extrapolate, rescale) to expectation values and standard
errors, and reports the techniques' diagnostics in the result's metadata.
"""

from __future__ import annotations

import time

import numpy as np
from qiskit.primitives import DataBin, PubResult

from qrt_runner.mitigation.pauli_terms import (
    between_randomizations,
    design_effect,
    mean_and_covariance,
    parity_mask,
    shot_values,
)
from qrt_runner.mitigation.technique import PubTerms
from qrt_runner.mitigation.zne import TermData
from qrt_runner.primitives.estimator_plan import _PubPlan


def _term_data(plan: _PubPlan, rows_per_circuit: list) -> tuple[TermData, list[float]]:
    """Means and covariances of every measured Pauli term per noise factor and set, and each
    factor's variance inflation.

    A mean over randomisations varies by its shots and by how much the randomisations differ
    (each twirl realises the noise its own way, and readout errors depend on the flips). The
    covariance of pooled shots counts the first only; the second grows with the shots per
    randomisation (so with fewer randomisations of more shots at high noise factors). Its size
    relative to one shot's variance, pooled over the PUB's terms, factors and sets (the
    randomisations' spread beyond their shot noise: :func:`between_randomizations`), scales each
    factor's covariance by the design effect of clustered samples (:func:`design_effect`); it is
    recorded as ``variance_inflation``."""
    num_groups, num_terms = len(plan.groups), len(plan.labels)
    means = np.zeros((len(plan.factors), plan.num_sets, num_terms))
    cov = np.zeros((len(plan.factors), plan.num_sets, num_terms, num_terms))
    gamma = 1.0
    for technique in plan.techniques:
        gamma *= technique.shot_weight(plan.notes)
    excess = within = 0.0  # summed over the PUB's terms, factors and sets (between_randomizations)
    start = 0
    for g, group in enumerate(plan.groups):
        span = slice(start, start + len(group))
        start += len(group)
        scale = np.ones(len(group))
        for technique in plan.techniques:
            factor = technique.term_scale(group)
            if factor is not None:
                scale = scale * factor
        for f in range(len(plan.factors)):
            circuit, rows = plan.circuits[f * num_groups + g], rows_per_circuit[f * num_groups + g]
            repeats = plan.factor_randomizations[f]
            if plan.shots == 0:
                for index, data in enumerate(rows):
                    means[f, index, span] = [data[label] for label in group]
                continue
            masks = np.array([parity_mask(label, circuit) for label in group], dtype=np.int64)
            for index in range(plan.num_sets):
                chunk = rows[index * repeats : (index + 1) * repeats]
                values, weights = shot_values(chunk, plan.flips[:repeats], circuit, masks, gamma)
                values = values / scale
                mean, covariance = mean_and_covariance(values, weights)
                means[f, index, span], cov[f, index, span, span] = mean, covariance
                spread, shot_variance = between_randomizations(values, weights, [len(o) for o, _ in chunk])
                excess, within = excess + spread.sum(), within + shot_variance.sum()
    inflation = [design_effect(excess, within, shots) for shots in plan.factor_shots]
    cov *= np.asarray(inflation)[:, None, None, None]
    scales = [c for t in plan.techniques if (c := t.term_scale_covariance(plan.labels)) is not None]
    scale_cov = np.sum(scales, axis=0) if scales else None  # independent calibrations: relative variances add
    return TermData(means, cov, scale_cov), inflation


def combine(plan: _PubPlan, outputs: list) -> PubResult:
    """Per-PUB evs and stds from the output of :meth:`_PubPlan.sim_task`."""
    started = time.perf_counter()
    (output,) = outputs
    position = len(plan.circuits)
    for technique, calibration in zip(plan.techniques, plan.calibrations):
        if calibration:
            technique.calibrate(calibration, output[position : position + len(calibration)], plan.labels)
            position += len(calibration)
    data, inflation = _term_data(plan, output[: len(plan.circuits)])
    metadata = {
        "target_precision": plan.precision,
        "shots": plan.shots,
        "num_bases": len(plan.groups) if plan.shots else 0,
        "circuit_metadata": plan.pub.circuit.metadata,
    }
    terms = PubTerms(plan.coeffs, plan.identity, plan.bounds, plan.labels)
    reduced = next((r for t in plan.techniques if (r := t.reduce(data, terms, plan.notes)) is not None), None)
    if reduced is None:
        evs_f, stds_f = data.observables(plan.coeffs, plan.identity)
        evs = evs_f[0]
        stds = np.sqrt(stds_f[0] ** 2 + data.calibration_variance(plan.coeffs[None, :, :] * data.means[0][:, None, :]))
    else:
        evs, stds, _ = reduced
    if plan.techniques:
        metadata["num_randomizations"] = plan.randomizations
        metadata["mitigation"] = _diagnostics(plan, getattr(output, "seconds", []), inflation)
        metadata["mitigation"].update(build_s=plan.build_s, combine_s=time.perf_counter() - started)
    param_index = np.arange(plan.num_sets).reshape(plan.param_shape) if plan.param_shape else np.array(0)
    obs_index = np.arange(len(plan.obs_terms)).reshape(plan.pub.observables.shape)
    p_idx, o_idx = np.broadcast_arrays(param_index, obs_index)
    result = DataBin(evs=evs[p_idx, o_idx], stds=stds[p_idx, o_idx], shape=plan.pub.shape)
    return PubResult(result, metadata=metadata)


def _simulate_s(plan: _PubPlan, seconds: list[float]) -> dict[str, float]:
    """Simulator seconds per technique (see :meth:`_PubPlan.roles`)."""
    out: dict[str, float] = {}
    for role, taken in zip(plan.roles(), seconds):
        out[role] = out.get(role, 0.0) + taken
    return out


def _diagnostics(plan: _PubPlan, seconds: list[float], inflation: list[float]) -> dict:
    calibrated = [(t, c) for t, c in zip(plan.techniques, plan.calibrations) if c]
    out = {
        "num_circuits": len(plan.circuits) + sum(len(c) for _, c in calibrated),
        "num_randomizations": plan.randomizations,
        "shots_per_randomization": plan.shots_per_binding,
        "shots_spent": int(plan.shots_measured() + sum(t.calibration_shots() for t, _ in calibrated)),
        "simulate_s": float(sum(seconds)),
        "simulate_s_by_technique": _simulate_s(plan, seconds),
    }
    out.update(plan.by_factor())
    if any(v != 1.0 for v in inflation):
        out["variance_inflation"] = [round(v, 4) for v in inflation]
    for technique in reversed(plan.techniques):  # the calibration first, the extrapolation last
        out.update(technique.diagnostics(plan.notes))
    return out
