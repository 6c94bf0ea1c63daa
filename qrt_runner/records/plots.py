"""The one plot of a run (``plot.png``): expectation values or a counts histogram.

Matplotlib is imported only when a plot is made, and figures are drawn with the Agg canvas
through the object-oriented ``Figure`` API: no display is needed, and neither ``pyplot``'s global
figure list nor the user's chosen backend (e.g. in a notebook) is touched.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from qrt_runner.records.results import EstimatorOutcome, RunResult, SamplerOutcome

__all__ = ["plot_result"]

#: At most this many outcomes are drawn in a counts histogram (the most frequent ones).
MAX_BARS = 32
#: At most this many observables are drawn against the parameter-set index.
MAX_OBSERVABLES = 16

_FIGSIZE = (7.0, 4.2)
_DPI = 110


def plot_result(result: RunResult, path: Path) -> Path | None:
    """Plot a run's result into ``path`` (PNG).

    Estimator: expectation values with their standard errors as error bars, one series per
    observable against the flattened parameter-set index (a bar chart over the observables when
    there is a single parameter set); NaN entries (unfinished jobs) are left out. Sampler: the
    counts histogram of the first finished parameter set, outcomes sorted by bitstring, limited
    to the :data:`MAX_BARS` most frequent ones. The title names primitive, backend and status.

    Args:
        result: The run's outcome.
        path: Where to write the PNG; its folder must exist.

    Returns:
        ``path``, or None when there is nothing to plot (no outcome, or nothing finished).
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=_FIGSIZE, dpi=_DPI)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    title = f"{result.primitive} on {result.backend} [{result.status}]"
    if result.optimization is not None:
        title = f"{result.task} ({result.optimization['optimizer']}) on {result.backend} [{result.status}]"
        detail = _plot_convergence(ax, result.optimization)
    elif result.scan is not None and result.estimator is not None:
        title = f"scan on {result.backend} [{result.status}]"
        detail = _plot_landscape(fig, ax, result)
    elif result.estimator is not None:
        detail = _plot_estimator(ax, result.estimator)
    elif result.sampler is not None:
        detail = _plot_sampler(ax, result.sampler)
    else:
        detail = None
    if detail is None:
        return None
    ax.set_title(f"{title}\n{detail}" if detail else title, fontsize=10)
    ax.grid(True, alpha=0.3)
    ax.set_axisbelow(True)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, format="png")
    return path


def _plot_convergence(ax: Axes, optimization: dict) -> str | None:
    """Energy per iteration with error bars, best so far, and the exact ground energy."""
    history = optimization.get("history") or []
    if not history:
        return None
    steps = [h["iteration"] for h in history]
    ax.errorbar(
        steps,
        [h["energy"] for h in history],
        yerr=[h["std"] for h in history],
        fmt="o-",
        ms=3,
        capsize=2,
        label="energy",
    )
    ax.plot(steps, [h["best_energy"] for h in history], "-", lw=1.5, label="best so far")
    exact = optimization.get("exact_energy")
    if exact is not None:
        ax.axhline(exact, color="k", ls="--", lw=1, label=f"exact {exact:.6f}")
    ax.set_xlabel("iteration")
    ax.set_ylabel(f"<{optimization.get('objective', 'H')}>")
    ax.legend(fontsize=8)
    best = optimization.get("best_energy")
    error = optimization.get("error_to_exact")
    detail = f"best {best:.6f}" if best is not None else ""
    return detail + (f", error to exact {error:.2e}" if error is not None else "")


def _plot_landscape(fig, ax: Axes, result: RunResult) -> str | None:
    """A line (one grid axis) or a heat map (two axes) of the first observable."""
    scan = result.scan
    assert scan is not None and result.estimator is not None  # checked by the caller
    energies = np.asarray(result.estimator.evs)[..., 0]
    stds = np.asarray(result.estimator.stds)[..., 0]
    axes = scan["axes"]
    if len(axes) == 1:
        ax.errorbar(axes[0]["values"], energies, yerr=stds, fmt="o-", ms=3, capsize=2)
        ax.set_xlabel(axes[0]["parameter"])
        ax.set_ylabel(f"<{scan['observable']}>")
    else:
        extent = (axes[1]["values"][0], axes[1]["values"][-1], axes[0]["values"][0], axes[0]["values"][-1])
        image = ax.imshow(energies, origin="lower", aspect="auto", extent=extent, cmap="viridis")
        fig.colorbar(image, ax=ax, label=f"<{scan['observable']}>")
        ax.set_xlabel(axes[1]["parameter"])
        ax.set_ylabel(axes[0]["parameter"])
    if scan.get("minimum") is None:
        return None
    where = ", ".join(f"{k}={v:.3f}" for k, v in scan["argmin"].items())
    return f"minimum {scan['minimum']:.5f} at {where}"


def _plot_estimator(ax: Axes, est: EstimatorOutcome) -> str | None:
    """Draw the expectation values; returns a subtitle, or None when all values are NaN."""
    labels = [str(label) for label in est.observable_labels]
    n_obs = len(labels)
    if n_obs == 0:
        return None
    evs = np.asarray(est.evs, dtype=float).reshape(-1, n_obs)
    stds = np.asarray(est.stds, dtype=float).reshape(-1, n_obs)
    stds = np.where(np.isfinite(stds), stds, 0.0)
    finite = np.isfinite(evs)
    if not finite.any():
        return None

    n_sets = evs.shape[0]
    ax.set_ylabel("expectation value")
    if n_sets == 1:
        keep = np.flatnonzero(finite[0])
        ax.bar(
            np.arange(len(keep)),
            evs[0, keep],
            yerr=stds[0, keep],
            capsize=4,
            color="tab:blue",
            alpha=0.8,
        )
        ax.set_xticks(np.arange(len(keep)), [labels[k] for k in keep], rotation=_rotation(keep))
        ax.set_xlabel("observable")
        ax.axhline(0.0, color="black", linewidth=0.8)
        return ""

    shown = range(min(n_obs, MAX_OBSERVABLES))
    x = np.arange(n_sets)
    for k in shown:
        if not finite[:, k].any():
            continue
        # NaN entries are not drawn and break the line, so no line bridges a missing set.
        ax.errorbar(
            x,
            evs[:, k],
            yerr=stds[:, k],
            marker="o",
            markersize=4,
            capsize=3,
            linewidth=1.2,
            label=labels[k],
        )
    ax.set_xlabel("parameter set (flattened index)")
    if n_sets <= 20:
        ax.set_xticks(x)
    ax.legend(title="observable", fontsize=8, title_fontsize=8, loc="best")
    return f"first {MAX_OBSERVABLES} of {n_obs} observables" if n_obs > MAX_OBSERVABLES else ""


def _plot_sampler(ax: Axes, sampler: SamplerOutcome) -> str | None:
    """Draw the counts of the first finished parameter set; None when none finished."""
    first = next(
        ((index, counts) for index, counts in enumerate(sampler.counts) if counts),
        None,
    )
    if first is None:
        return None
    index, counts = first
    by_frequency = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    top = sorted(by_frequency[:MAX_BARS], key=lambda item: (len(item[0]), item[0]))
    outcomes = [outcome for outcome, _ in top]
    values = [value for _, value in top]
    positions = np.arange(len(top))
    ax.bar(positions, values, color="tab:blue", alpha=0.8)
    ax.set_xticks(positions, outcomes, rotation=_rotation(outcomes), fontsize=8)
    ax.set_xlabel("outcome (bitstring)")
    ax.set_ylabel("counts")
    detail = f"parameter set {index}, {sum(counts.values())} shots"
    if len(counts) > MAX_BARS:
        detail += f", {MAX_BARS} most frequent of {len(counts)} outcomes"
    return detail


def _rotation(items: Any) -> int:
    """Tick-label rotation: vertical when there are many labels."""
    return 90 if len(items) > 8 else 0


def _first_set_values(outcome) -> tuple[np.ndarray, np.ndarray]:
    """The reported ``(evs, stds)`` of an estimator outcome's first parameter set, per observable."""
    count = len(outcome.observable_labels)
    return np.asarray(outcome.evs).reshape(-1, count)[0], np.asarray(outcome.stds).reshape(-1, count)[0]


def plot_zne(result: RunResult, path: Path) -> Path | None:
    """ZNE diagnostics of the first job and parameter set: each observable's values against the
    noise factor with error bars, every extrapolator's curve fitted to them down to zero noise,
    and (a star) the zero-noise value the run reports, which per-term extrapolation, clipping to
    the bound and widened error bars can set apart from the curves'."""
    jobs = (result.mitigation or {}).get("jobs") or []
    job = next((j for j in jobs if "noise_factors" in j), None)
    if job is None or result.estimator is None:
        return None
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from qrt_runner.mitigation.extrapolation import fit

    factors = np.asarray(job["noise_factors"])
    evs = np.asarray(job["evs_noise_factors"])[0]  # (observables, factors) of the first set
    stds = np.asarray(job["stds_noise_factors"])[0]
    chosen = job["extrapolator"][0]
    assert result.mitigation is not None  # the job came from it
    names = result.mitigation["effective"]["resilience"]["zne"]["extrapolator"]
    labels = result.estimator.observable_labels[:MAX_OBSERVABLES]
    reported, reported_stds = _first_set_values(result.estimator)
    grid = np.linspace(0.0, factors.max(), 60)
    fig = Figure(figsize=_FIGSIZE, dpi=_DPI)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    for k, label in enumerate(labels):
        line = ax.errorbar(factors, evs[k], yerr=stds[k], fmt="o", capsize=3, label=f"{label} (used: {chosen[k]})")
        for name in names:
            curve = fit(name, factors, evs[k], stds[k], grid)
            if curve.ok:
                style = "-" if name == chosen[k] else ":"
                ax.plot(grid, curve.values, style, color=line[0].get_color(), lw=1.2)
        ax.errorbar([0.0], [reported[k]], yerr=[reported_stds[k]], fmt="*", ms=10, color=line[0].get_color())
    ax.set_xlabel("noise factor")
    ax.set_ylabel("expectation value")
    ax.set_title(f"ZNE on {result.backend}: fits (solid: used, dotted: others), ★ reported value", fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(True, alpha=0.3)
    fig.tight_layout()
    fig.savefig(Path(path), format="png")
    return Path(path)
