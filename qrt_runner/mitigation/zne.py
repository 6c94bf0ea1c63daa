"""Zero-noise extrapolation of a PUB's observables from its measured Pauli terms.

The estimator measures, per noise factor and parameter set, the mean of every Pauli term and
the covariance of those means (terms measured in the same basis share shots). An observable is
``identity + sum_l c_l <P_l>``. ZNE extrapolates either each observable (``per_term=False``) or
each Pauli term on its own and sums the zero-noise terms (``per_term=True``, as IBM's service
does): terms decaying at different rates (a magnetisation's Z_i on qubits of different quality)
are then each fitted by their own curve, with bound 1.
Standard errors follow from the fits' gradients and the covariance of the terms at every noise
factor.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

from qrt_runner.mitigation.extrapolation import choose, fit


@dataclass
class TermData:
    """Per noise factor and parameter set: means of the Pauli terms and their covariance.

    Attributes:
        means: ``(factors, sets, terms)``.
        cov: ``(factors, sets, terms, terms)`` (covariance of the means, from their shots).
        scale_cov: ``(terms, terms)``, the relative covariance ``Cov(c_l, c_m) / (c_l c_m)`` of
            the calibrated scales ``c`` the means were divided by (TREX), or None. One
            calibration divides every noise factor and set alike, so its error is common to all
            of them: the fits, which see only ``cov``, cannot reduce it, and
            :meth:`calibration_variance` adds it to their results.
    """

    means: np.ndarray
    cov: np.ndarray
    scale_cov: np.ndarray | None = None

    def observables(self, coeffs: np.ndarray, identity: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(evs, stds)`` of the observables ``identity + coeffs @ terms``, each ``(factors, sets, obs)``,
        with the errors of the shots only (what the fits across noise factors weigh)."""
        evs = identity + self.means @ coeffs.T
        variances = np.einsum("ol,fslm,om->fso", coeffs, self.cov, coeffs)
        return evs, np.sqrt(np.clip(variances, 0.0, None))

    def calibration_variance(self, sensitivity: np.ndarray) -> np.ndarray:
        """The variance a result gets from the calibrated scales: ``sensitivity[..., l]`` is
        ``-c_l`` times its derivative by ``c_l`` (a term's value scaled by 1/c_l: the term's
        coefficient times its value). Zeros without a calibration."""
        if self.scale_cov is None:
            return np.zeros(sensitivity.shape[:-1])
        return np.clip(np.einsum("...l,lm,...m->...", sensitivity, self.scale_cov, sensitivity), 0.0, None)


def extrapolate_pub(
    factors,
    data: TermData,
    coeffs: np.ndarray,
    identity: np.ndarray,
    bounds: np.ndarray,
    extrapolators: tuple[str, ...],
    at,
    choice: str,
    per_term: bool,
    labels: list[str] | None = None,
    min_decay: float | None = None,
) -> tuple[np.ndarray, np.ndarray, dict]:
    """Zero-noise ``(evs, stds)`` per set and observable ``(sets, obs)``, and diagnostics: the
    values per noise factor, the fit chosen per observable (and per term), and by how much a fit's
    standard error was scaled where its data's scatter or the decays they leave standing call for
    it (``term_error_scales``: the terms scaled, per set; ``error_scales`` per observable).

    Args:
        factors: the noise factors of ``data``'s first axis.
        coeffs: ``(obs, terms)`` real coefficients; ``identity`` ``(obs,)``; ``bounds`` the largest
            possible |value| per observable.
        extrapolators: names in order of preference; ``choice`` the rule of
            :func:`~qrt_runner.mitigation.extrapolation.choose`.
        at: noise factors to report every extrapolator's value at (``evs_extrapolated``).
        labels: the terms' Pauli labels (for ``term_extrapolators``).
        min_decay: the least a value may keep per unit of noise factor (the steepest decay the
            device's noise allows; 0: any; None: not known, no widening), for the
            ``uncertainty`` choice's error bars.
    """
    factors = np.asarray(factors, dtype=float)
    at = np.asarray(at, dtype=float)
    evs_f, stds_f = data.observables(coeffs, identity)
    num_sets, num_obs = evs_f.shape[1:]
    evs, stds = np.zeros((num_sets, num_obs)), np.zeros((num_sets, num_obs))
    chosen = np.empty((num_sets, num_obs), dtype=object)
    scales = np.ones((num_sets, num_obs))
    extrapolated = np.zeros((num_sets, num_obs, len(extrapolators), len(at)))
    per_term_names: list[dict] = []
    per_term_scales: list[dict] = []
    for s in range(num_sets):
        for o in range(num_obs):
            extrapolated[s, o] = [
                fit(name, factors, evs_f[:, s, o], stds_f[:, s, o], at).values for name in extrapolators
            ]
            if not per_term:
                fits = [fit(name, factors, evs_f[:, s, o], stds_f[:, s, o], [0.0]) for name in extrapolators]
                best = choose(fits, factors, evs_f[:, s, o], stds_f[:, s, o], bounds[o], choice, min_decay, identity[o])
                evs[s, o], stds[s, o], chosen[s, o], scales[s, o] = best.values[0], best.stds[0], best.name, best.scale
                sensitivity = coeffs[o] * _propagated(best.gradient, data.means[:, s, :].T)
                stds[s, o] = np.sqrt(stds[s, o] ** 2 + data.calibration_variance(sensitivity))
        if per_term:
            evs[s], stds[s], chosen[s], names, term_scales = _per_term(
                factors, data, s, coeffs, identity, extrapolators, choice, min_decay
            )
            per_term_names.append({(labels[t] if labels else str(t)): name for t, name in names.items()})
            per_term_scales.append({(labels[t] if labels else str(t)): scale for t, scale in term_scales.items()})
    diagnostics = {
        "evs_noise_factors": evs_f.transpose(1, 2, 0).tolist(),
        "stds_noise_factors": _with_calibration(stds_f, data, coeffs).transpose(1, 2, 0).tolist(),
        "extrapolator": chosen.tolist(),
        "extrapolated_noise_factors": at.tolist(),
        "evs_extrapolated": extrapolated.tolist(),
        "per_term": per_term,
    }
    if per_term:
        diagnostics["term_extrapolators"] = per_term_names
        diagnostics["term_error_scales"] = per_term_scales
    else:
        diagnostics["error_scales"] = np.round(scales, 3).tolist()
    return evs, stds, diagnostics


def _with_calibration(stds: np.ndarray, data: TermData, coeffs: np.ndarray) -> np.ndarray:
    """Each noise factor's standard errors ``(factors, sets, obs)`` with the calibration's error
    added: what one factor's value, read on its own, is uncertain by (the fits weigh the shots'
    errors only, as the calibration's is common to every factor)."""
    sensitivity = coeffs[None, None, :, :] * data.means[:, :, None, :]  # (factors, sets, obs, terms)
    return np.sqrt(stds**2 + data.calibration_variance(sensitivity))


def _propagated(gradient: np.ndarray | None, means: np.ndarray) -> np.ndarray:
    """Per term, the fit's value at zero noise differentiated along the term's means at every
    noise factor (``means``: terms x factors): what scaling the term by 1/c does to it, to first
    order (the fit's value itself for a fit that scales with its data, as the linear and the
    exponential do)."""
    if gradient is None:
        return np.full(means.shape[0], np.nan)
    return means @ gradient[0]


def _per_term(factors, data: TermData, s: int, coeffs, identity, extrapolators, choice, min_decay):
    """One set: every used term extrapolated on its own, then summed per observable."""
    num_terms = data.means.shape[2]
    used = np.flatnonzero(np.any(coeffs != 0, axis=0))
    values = np.zeros(num_terms)
    gradients = np.zeros((num_terms, len(factors)))  # d term value / d term mean at each factor, x the fit's scale
    scaled = np.zeros(num_terms)  # each term's value along its calibrated scale (see _propagated)
    names: dict[int, str] = {}
    widened: dict[int, float] = {}  # terms whose fit error was scaled: by the data's scatter or a decay's range
    for term in used:
        y = data.means[:, s, term]
        sigma = np.sqrt(np.clip(data.cov[:, s, term, term], 0.0, None))
        fits = [fit(name, factors, y, sigma, [0.0]) for name in extrapolators]
        best = choose(fits, factors, y, sigma, 1.0, choice, min_decay)
        values[term] = best.values[0]
        names[int(term)] = best.name
        if best.scale > 1.0 + 1e-9:
            widened[int(term)] = round(float(best.scale), 3)
        gradients[term] = best.gradient[0] * best.scale if best.gradient is not None else np.nan
        scaled[term] = _propagated(best.gradient, y[None, :])[0]
    evs = identity + coeffs @ values
    # var_o = sum_f g_f^T C_f g_f with g_f[l] = c_ol * d value_l / d mean_lf
    weights = coeffs[:, :, None] * gradients[None, :, :]  # (obs, terms, factors)
    variances = np.einsum("olf,flm,omf->o", weights, data.cov[:, s], weights)
    variances = variances + data.calibration_variance(coeffs * scaled)
    chosen = []
    for o in range(coeffs.shape[0]):
        counts = Counter(names[t] for t in np.flatnonzero(coeffs[o]).tolist() if t in names)
        chosen.append(max(extrapolators, key=lambda name: counts.get(name, 0)) if counts else extrapolators[0])
    return evs, np.sqrt(np.clip(variances, 0.0, None)), chosen, names, widened
