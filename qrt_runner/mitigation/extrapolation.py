"""Zero-noise extrapolators: fit expectation values against noise factors, evaluate at zero.

Each fit returns the value and standard error at the requested noise factors, whether it
succeeded, the gradient of its values with respect to the data (exact for polynomials,
linearised at the optimum for the nonlinear fits), which propagates correlated errors, and its
goodness of fit: a fit whose chi2 lies beyond the upper :data:`CONSISTENT_P` tail is one its data
contradict, and its errors are scaled by the Birge ratio sqrt(chi2 / dof).
:func:`extrapolate` picks one per observable: ``order`` takes the first successful fit within the
bounds, as IBM's ZNE does; ``uncertainty`` (the default) prefers fits the data leave standing,
passes over an ill-conditioned fit (a standard error above :data:`MAX_STD_RATIO` times the data's
largest, on data that resolve no signal: an exponential through values near zero), and keeps a
fit whose error is within the bound and whose value lies beyond it by less than
:data:`BOUND_SLACK` standard errors, clipped to the bound (a mirror circuit's <Z> = 1 extrapolated
to 1.01 +- 0.02 is 1, not a biased linear 0.97). A steep decay resolved only at the lowest factor
(0.31, 0.02, -0.005 +- 0.014, exact 1) is the exponential's 1.2 +- 0.4, clipped to 1 with its
error: a line through it said 0.35 +- 0.015, a wrong number with an error bar that hid it (chi2
60 on one degree of freedom). Where only a contradicted fit is usable, its error is widened to
reach the values of the fits the data leave standing (:func:`_widened`). Where a line, or an
exponential through data that resolve no signal at the highest noise factor, says less than the
data leave open, its error is widened to every zero-noise value an exponential decay no steeper
than the device's noise allows leaves standing (:func:`decay_interval`, :func:`_ranged`).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, replace

import numpy as np

from qrt_runner.config.allowed import EXTRAPOLATOR_CHOICES
from qrt_runner.mitigation.options import degrees_of_freedom

CHOICES = EXTRAPOLATOR_CHOICES
MAX_STD_RATIO = 10.0
RESOLVED = 3.0
BOUND_SLACK = 2.0
CONSISTENT_P = 0.01
PROFILE_DELTA = 3.84  # chi2 above the least on one parameter: a 95% profile interval
_Z95 = 1.96
_PROFILE_AMPLITUDES = 201
_PROFILE_DECAYS = 101
_GOLDEN_STEPS = 16
_LEAST_DECAY = 1e-6


@dataclass
class Fit:
    """An extrapolator's fit: values and standard errors at ``at``, whether it is usable,
    ``gradient[i, f]`` = d values[i] / d y[f] (None when the fit failed), and its goodness of fit:
    ``chi2`` of its residuals at the data over ``dof`` degrees of freedom (0: as many parameters
    as points, nothing to test) and ``scale``, the factor already applied to ``stds`` (and to be
    applied to errors propagated through ``gradient``) where the data contradict the fit
    (:attr:`consistent` false): sqrt(chi2 / dof), the Birge ratio."""

    name: str
    values: np.ndarray
    stds: np.ndarray
    ok: bool
    gradient: np.ndarray | None = None
    chi2: float = 0.0
    dof: int = 0
    scale: float = 1.0

    @property
    def consistent(self) -> bool:
        """Whether its data leave the fit's model standing: chi2 not beyond its upper
        :data:`CONSISTENT_P` tail (always, with nothing to test)."""
        return self.dof <= 0 or _consistent(self.chi2, self.dof)


def _failed(name: str, size: int) -> Fit:
    nan = np.full(size, np.nan)
    return Fit(name, nan, nan.copy(), False)


def _weights(stds: np.ndarray) -> np.ndarray:
    stds = np.asarray(stds, dtype=float)
    if np.all(stds > 0):
        return 1.0 / stds**2
    return np.ones_like(stds)


def polynomial(x: np.ndarray, y: np.ndarray, stds: np.ndarray, degree: int, at: np.ndarray) -> Fit:
    """Weighted least-squares polynomial; the values at ``at`` are linear in ``y``, so their
    standard errors follow exactly from the data's."""
    design = np.vander(x, degree + 1, increasing=True)
    weights = _weights(stds)
    normal = design.T @ (weights[:, None] * design)
    name = "linear" if degree == 1 else f"polynomial_degree_{degree}"
    try:
        inverse = np.linalg.inv(normal)
    except np.linalg.LinAlgError:
        return _failed(name, len(at))
    # value(at) = V(at) @ inverse @ X^T W y  =  L @ y
    linear_map = np.vander(at, degree + 1, increasing=True) @ inverse @ (design.T * weights)
    values = linear_map @ y
    errors = np.sqrt((linear_map**2) @ (np.asarray(stds, dtype=float) ** 2))
    return Fit(name, values, errors, bool(np.all(np.isfinite(values))), linear_map)


# A decay rate above this is growth; below it, flat data fitted to rounding (b ~ 1e-17).
_FLAT = 1e-9


def exponential(x: np.ndarray, y: np.ndarray, stds: np.ndarray, at: np.ndarray) -> Fit:
    """f(x) = A exp(b x), by weighted least squares on the values themselves (as IBM's
    qiskit-mitigation fits it), started from a line through log|y|.

    Fitting the values rather than log|y| lets a noisy point near zero, or just across it, at a
    high noise factor (a strongly decaying signal) pull the fit a little, instead of refusing
    the exponential and handing over to the next extrapolator (usually a badly biased linear
    fit). Refused when the data change sign by more than 3 standard errors (no exponential
    does), when the fit fails, when A has the other sign than the lowest-noise value, or when the
    fit grows with the noise factor (b > 0: amplified noise never strengthens a Pauli
    expectation; such a fit comes from shot noise around a value near zero, and extrapolating it
    back gives a value pinned near 0 with a meaningless, tiny standard error). The
    standard errors follow from the data's through the fit's Jacobian (zero for exact data).
    """
    from scipy.optimize import curve_fit

    refused = _failed("exponential", len(at))
    stds = np.asarray(stds, dtype=float)
    sign = np.sign(y[int(np.argmin(x))])
    positive = stds[(stds > 0) & np.isfinite(stds)]
    exact = positive.size == 0
    sigma = np.ones_like(y) if exact else np.clip(np.nan_to_num(stds, nan=np.inf), positive.min(), positive.max())
    if sign == 0 or not np.all(np.isfinite(y)) or np.any(sign * y < -3 * (0.0 if exact else sigma)):
        return refused
    magnitude = np.clip(np.abs(y), 1e-12, None)
    rate, log_amplitude = np.polyfit(x, np.log(magnitude), 1, w=magnitude / sigma)

    def model(xs, amplitude, b):
        return amplitude * np.exp(b * xs)

    def jacobian(xs, amplitude, b):
        return np.stack([np.exp(b * xs), amplitude * xs * np.exp(b * xs)], axis=-1)

    try:
        with warnings.catch_warnings():  # its own covariance (unused) warns for two noise factors
            warnings.simplefilter("ignore")
            (amplitude, b), _ = curve_fit(
                model, x, y, p0=(sign * np.exp(log_amplitude), rate), sigma=sigma, jac=jacobian, maxfev=5000
            )
        weighted = jacobian(x, amplitude, b) / sigma[:, None]
        cov = np.linalg.inv(weighted.T @ weighted)
    except (RuntimeError, ValueError, np.linalg.LinAlgError):
        return refused
    values = model(at, amplitude, b)
    jac = jacobian(at, amplitude, b)
    errors = np.zeros(len(at)) if exact else np.sqrt(np.clip(np.einsum("ij,jk,ik->i", jac, cov, jac), 0.0, None))
    # Gauss-Newton at the optimum: d params / d y = cov J^T W
    gradient = jac @ cov @ (weighted / sigma[:, None]).T
    ok = bool(np.sign(amplitude) == sign and b <= _FLAT and np.all(np.isfinite(values)) and np.all(np.isfinite(errors)))
    return Fit("exponential", values, errors, ok, gradient)


def double_exponential(x: np.ndarray, y: np.ndarray, stds: np.ndarray, at: np.ndarray) -> Fit:
    """f(x) = A exp(-x/t1) + B exp(-x/t2), fitted with SciPy; errors from the fit covariance."""
    from scipy.optimize import curve_fit

    def model(xs, a, r1, b, r2):
        return a * np.exp(-r1 * xs) + b * np.exp(-r2 * xs)

    def jacobian(xs, a, r1, b, r2):
        return np.stack(
            [np.exp(-r1 * xs), -a * xs * np.exp(-r1 * xs), np.exp(-r2 * xs), -b * xs * np.exp(-r2 * xs)], axis=-1
        )

    try:
        sigma = np.asarray(stds, dtype=float) if np.all(np.asarray(stds) > 0) else None
        params, cov = curve_fit(
            model,
            x,
            y,
            p0=(y[0], 0.1, 0.0, 1.0),
            sigma=sigma,
            maxfev=5000,
            bounds=([-np.inf, 0, -np.inf, 0], [np.inf, np.inf, np.inf, np.inf]),
            absolute_sigma=sigma is not None,  # the data's errors as they are (the Birge ratio is fit()'s)
        )
    except (RuntimeError, ValueError):
        return _failed("double_exponential", len(at))
    values = model(at, *params)
    jac = jacobian(at, *params)
    errors = np.sqrt(np.einsum("ij,jk,ik->i", jac, cov, jac))
    scale = 1.0 / sigma if sigma is not None else np.ones(len(x))
    data_jac = jacobian(x, *params) * scale[:, None]
    with np.errstate(all="ignore"):
        gradient = jac @ np.linalg.pinv(data_jac.T @ data_jac) @ (data_jac * scale[:, None]).T
    ok = bool(np.all(np.isfinite(errors)) and gradient is not None and np.all(np.isfinite(gradient)))
    return Fit("double_exponential", values, errors, ok, gradient)


def fallback(x: np.ndarray, y: np.ndarray, stds: np.ndarray, at: np.ndarray) -> Fit:
    """No extrapolation: the data at the lowest noise factor, everywhere."""
    lowest = int(np.argmin(x))
    gradient = np.zeros((len(at), len(x)))
    gradient[:, lowest] = 1.0
    return Fit("fallback", np.full(len(at), y[lowest]), np.full(len(at), stds[lowest]), True, gradient)


def fit(name: str, x, y, stds, at) -> Fit:
    """Run the extrapolator called ``name`` (IBM's names), with its goodness of fit (see :class:`Fit`)."""
    x, y, stds, at = (np.asarray(v, dtype=float) for v in (x, y, stds, at))
    both = _fit(name, x, y, stds, np.concatenate([at, x]))
    count = len(at)
    result = Fit(
        both.name,
        both.values[:count],
        both.stds[:count],
        both.ok,
        None if both.gradient is None else both.gradient[:count],
    )
    dof = 0 if name == "fallback" else len(x) - degrees_of_freedom(name)  # the fallback fits nothing
    if not both.ok or dof <= 0 or not np.all(stds > 0):  # nothing to test (or exact data)
        return result
    chi2 = float(np.sum(((both.values[count:] - y) / stds) ** 2))
    result.chi2, result.dof = chi2, dof
    if not result.consistent:  # scaling every fit with chi2 > dof overstated the errors of good fits by a fifth
        result.scale = float(np.sqrt(chi2 / dof))
    result.stds = result.stds * result.scale
    return result


def _fit(name: str, x: np.ndarray, y: np.ndarray, stds: np.ndarray, at: np.ndarray) -> Fit:
    if name == "linear":
        return polynomial(x, y, stds, 1, at)
    if name.startswith("polynomial_degree_"):
        return polynomial(x, y, stds, int(name.rsplit("_", 1)[1]), at)
    if name == "exponential":
        return exponential(x, y, stds, at)
    if name == "double_exponential":
        return double_exponential(x, y, stds, at)
    return fallback(x, y, stds, at)


def usable(candidate: Fit, bound: float, slack: float = 0.0) -> bool:
    """Successful, finite, and its zero-noise value within ``±bound``, widened by ``slack`` of its
    standard errors when those are within the bound (a larger error says nothing of the value)."""
    zero = candidate.values[0]
    limit = bound * (1 + 1e-9)
    if candidate.stds[0] <= bound:
        limit += slack * candidate.stds[0]
    return bool(candidate.ok and np.isfinite(zero) and abs(zero) <= limit and np.all(np.isfinite(candidate.stds)))


def well_conditioned(candidate: Fit, x, y, stds) -> bool:
    """Not ill-conditioned. A fit is ill-conditioned when its standard error at zero noise exceeds
    :data:`MAX_STD_RATIO` times the data's largest while the data resolve no signal: the value at
    the lowest noise factor lies within :data:`RESOLVED` of its standard errors of zero (an
    exponential through values near zero: it amplifies the noise and has nothing to extrapolate).
    A resolved signal that decays steeply keeps its large-error fit, as IBM's rule would."""
    stds = np.asarray(stds, dtype=float)
    largest = float(np.max(stds)) if stds.size else 0.0
    if largest == 0 or candidate.stds[0] <= MAX_STD_RATIO * largest:
        return True
    lowest = int(np.argmin(np.asarray(x, dtype=float)))
    return bool(abs(y[lowest]) > RESOLVED * stds[lowest])


def clipped(candidate: Fit, bound: float) -> Fit:
    """The fit with its zero-noise value clipped to ``±bound`` (the values it may take); this never
    moves it away from a true value within the bound. Its standard error and gradient stay those
    of the fit."""
    if abs(candidate.values[0]) <= bound:
        return candidate
    values = candidate.values.copy()
    values[0] = np.clip(values[0], -bound, bound)
    return replace(candidate, values=values)


def choose(
    fits: list[Fit],
    x,
    y,
    stds,
    bound: float,
    choice: str = "uncertainty",
    min_decay: float | None = None,
    offset: float = 0.0,
) -> Fit:
    """The fit of data ``y`` (standard errors ``stds``) at noise factors ``x`` to use.

    ``order`` (IBM's rule): the first usable fit (see :func:`usable`), else the last fit.
    ``uncertainty``: a fit is usable when its value lies within the bound to within
    :data:`BOUND_SLACK` of its standard errors, if those are within the bound (it is then clipped
    to it). Fits that their data leave standing (:attr:`Fit.consistent`) come first: the first
    of them that is well conditioned (:func:`well_conditioned`), then the first well-conditioned
    one of the rest; if none is well conditioned, the usable fit with the smallest standard error
    (consistent ones first); else the last fit. With ``min_decay`` (the least a value keeps per
    unit of noise factor on the device; None: not known, nothing widened) and an exponential
    among the fits, the error of a fit taken where the data may leave more open than it says
    (:func:`_unresolved`) is widened to every zero-noise value a decay leaves standing
    (:func:`_ranged`); ``offset`` is the part of the data that does not decay (an observable's
    identity term).
    """
    if choice == "order":
        usable_fits = [candidate for candidate in fits if usable(candidate, bound)]
        return usable_fits[0] if usable_fits else fits[-1]
    best = _choose(fits, x, y, stds, bound)
    if min_decay is None or not any(candidate.name == "exponential" for candidate in fits):
        return best
    decaying = np.asarray(y, dtype=float) - offset
    if _unresolved(best, x, decaying, stds):
        return _ranged(best, x, decaying, stds, bound - abs(offset), min_decay, offset)
    return best


def _choose(fits: list[Fit], x, y, stds, bound: float) -> Fit:
    usable_fits = [clipped(candidate, bound) for candidate in fits if usable(candidate, bound, BOUND_SLACK)]
    consistent = [candidate for candidate in usable_fits if candidate.consistent]
    for group in (consistent, usable_fits):
        for candidate in group:
            if well_conditioned(candidate, x, y, stds):
                return _widened(candidate, fits, bound)
    for group in (consistent, usable_fits):
        if group:
            return _widened(min(group, key=lambda candidate: candidate.stds[0]), fits, bound)
    return _widened(fits[-1], fits, bound)


def _widened(candidate: Fit, fits: list[Fit], bound: float) -> Fit:
    """``candidate``, or where its data contradict it, with its error widened to reach the
    zero-noise value (clipped to the bound) of every fit they leave standing: the data cannot tell
    which is right (a line through a steep decay, 0.18 +- 0.09, beside an exponential that says
    1.5 +- 4: 0.18 +- 0.82, for a true 0.65)."""
    if candidate.consistent or not np.isfinite(candidate.values[0]):
        return candidate
    standing = [np.clip(f.values[0], -bound, bound) for f in fits if f.ok and f.consistent and np.isfinite(f.values[0])]
    spread = max((abs(value - candidate.values[0]) for value in standing), default=0.0)
    if not spread > candidate.stds[0]:
        return candidate
    stds = candidate.stds.copy()
    stds[0] = spread
    scale = candidate.scale * spread / candidate.stds[0] if candidate.stds[0] > 0 else candidate.scale
    return replace(candidate, stds=stds, scale=scale)


def decay_interval(x, y, stds, bound: float, min_decay: float = 0.0) -> tuple[float, float] | None:
    """The zero-noise values ``A`` that an exponential decay ``A u**x`` leaves standing on the
    data, with the decay per unit noise factor ``u`` in ``[min_decay, 1]`` and ``|A| <= bound``:
    those whose profile chi2 (the least over ``u``) lies within :data:`PROFILE_DELTA` of the
    least (a 95% interval). None where no such decay fits the data (its chi2 beyond the upper
    :data:`CONSISTENT_P` tail) or the data are exact.

    A signal resolved at the lowest factor and gone at the next ones (-0.087, 0.002, 0.006 +-
    0.015, exact -0.459) fits every steep enough decay: from about the lowest factor's value to
    the bound. A line through it (-0.10 +- 0.02) or an exponential's linearised error says far
    less than the data leave open.
    """
    profile = decay_profile(x, y, stds, bound, min_decay)
    if profile is None or not _consistent(profile[2], profile[3]):
        return None
    return profile[0], profile[1]


def decay_profile(x, y, stds, bound: float, min_decay: float = 0.0) -> tuple[float, float, float, int] | None:
    """``(low, high, chi2, dof)``: the interval of :func:`decay_interval` whether or not the data
    contradict the decay, the least chi2 of a decay on them and its degrees of freedom (at least
    1: with two noise factors, ``u <= 1`` can still contradict them); None for exact data."""
    x, y, stds = (np.asarray(v, dtype=float) for v in (x, y, stds))
    if not bound > 0 or not np.all(stds > 0) or not np.all(np.isfinite(y)) or not np.isfinite(bound):
        return None
    weights = 1.0 / stds**2
    low, high, least = -bound, bound, np.inf
    for _ in range(2):  # the whole range, then finely across the values left standing (a large bound's grid is coarse)
        amplitudes = np.linspace(low, high, _PROFILE_AMPLITUDES)
        chi2 = _profile(amplitudes, x, y, weights, min_decay)
        least = min(least, float(np.min(chi2)))
        standing = amplitudes[chi2 <= least + PROFILE_DELTA]
        step = amplitudes[1] - amplitudes[0]
        low, high = max(standing.min() - step, -bound), min(standing.max() + step, bound)
    low, high = float(max(standing.min() - step / 2, -bound)), float(min(standing.max() + step / 2, bound))
    return low, high, least, max(len(x) - 2, 1)


def _consistent(chi2: float, dof: int) -> bool:
    """Whether ``chi2`` on ``dof`` degrees of freedom lies outside the upper :data:`CONSISTENT_P` tail."""
    if chi2 <= dof:
        return True
    from scipy.special import gammaincc  # chi2 survival function, without importing scipy.stats

    return bool(gammaincc(dof / 2, chi2 / 2) >= CONSISTENT_P)


def _profile(amplitudes: np.ndarray, x: np.ndarray, y: np.ndarray, weights: np.ndarray, min_decay: float) -> np.ndarray:
    """chi2 of ``A u**x`` at every amplitude, the least over ``u`` in ``[min_decay, 1]`` (and
    ``u = 0``, every value 0, when ``min_decay`` is 0): a grid in log u brackets each least, and
    a golden-section search refines it."""
    logs = np.linspace(np.log(max(min_decay, _LEAST_DECAY)), 0.0, _PROFILE_DECAYS)

    def chi2(log_decay: np.ndarray) -> np.ndarray:  # (amplitudes, k) of log u
        model = amplitudes[:, None, None] * np.exp(log_decay[..., None] * x)
        return np.sum(weights * (y - model) ** 2, axis=-1)

    grid = chi2(np.broadcast_to(logs, (len(amplitudes), len(logs))))
    best = np.argmin(grid, axis=1)
    low, high = logs[np.maximum(best - 1, 0)], logs[np.minimum(best + 1, len(logs) - 1)]
    ratio = (np.sqrt(5.0) - 1) / 2
    for _ in range(_GOLDEN_STEPS):
        a, b = high - ratio * (high - low), low + ratio * (high - low)
        left_better = chi2(np.stack([a, b], axis=1))
        keep_left = left_better[:, 0] < left_better[:, 1]
        high, low = np.where(keep_left, b, high), np.where(keep_left, low, a)
    refined = chi2(((low + high) / 2)[:, None])[:, 0]
    least = np.minimum(grid.min(axis=1), refined)
    if min_decay <= 0:
        least = np.minimum(least, float(np.sum(weights * y**2)))
    return least


def _unresolved(candidate: Fit, x, y, stds) -> bool:
    """Whether ``candidate``'s error may say less than the data leave open: it is no exponential
    (a line or polynomial through a decay), or the data resolve no signal at the highest noise
    factor (the exponential's linearised error then misses how steep a decay they allow)."""
    if candidate.name != "exponential":
        return True
    highest = int(np.argmax(np.asarray(x, dtype=float)))
    return bool(abs(y[highest]) <= RESOLVED * stds[highest])


def _ranged(candidate: Fit, x, y, stds, bound: float, min_decay: float, offset: float = 0.0) -> Fit:
    """``candidate`` with its error widened, where it is narrower, so that its value +- 1.96
    errors spans every zero-noise value an exponential decay leaves standing on the data
    (:func:`decay_interval`, no faster than ``min_decay``). Its value stays: only the error bar
    changes. Data that no such decay fits (values that drift across zero, as the default demo's
    <ZZZ> = 0 does: 0.052, 0.009, -0.051 +- 0.02, a line 0.079 +- 0.024; or that grow with the
    noise factor, as relaxation pushes a <Z> towards +1) contradict the premise of every
    extrapolation: the fit's error is scaled by their Birge ratio sqrt(chi2 / dof) against the
    best decay, as a contradicted fit's is (the demo: +- 0.07)."""
    profile = decay_profile(x, y, stds, bound, min_decay)
    value, error = float(candidate.values[0]), float(candidate.stds[0])
    if profile is None or not np.isfinite(value) or not np.isfinite(error):
        return candidate
    low, high, chi2, dof = profile
    if _consistent(chi2, dof):
        needed = max(value - (low + offset), (high + offset) - value) / _Z95
    else:  # the data contradict every decay: the fit's error scaled by their Birge ratio
        needed = error * float(np.sqrt(chi2 / dof))
    if needed <= error:
        return candidate
    errors = candidate.stds.copy()
    errors[0] = needed
    scale = candidate.scale * needed / error if error > 0 else candidate.scale
    return replace(candidate, stds=errors, scale=scale)


def extrapolate(
    names: tuple[str, ...],
    x,
    y,
    stds,
    bound: float,
    at=(0.0,),
    choice: str = "order",
    min_decay: float | None = None,
) -> tuple[Fit, list[Fit]]:
    """All fits at ``at`` (zero noise first), and the one :func:`choose` picks.

    ``bound`` is the largest possible |expectation value| (the observable's coefficient 1-norm).
    When none succeeds, the last fit is used (its ``ok`` says it failed).
    """
    fits = [fit(name, x, y, stds, at) for name in names]
    return choose(fits, x, y, stds, bound, choice, min_decay), fits
