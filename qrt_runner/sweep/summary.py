"""A sweep as a whole: one row per point, as a table (CSV and terminal) and a plot.

Rows are read from the points' own records, never from one process's memory: each point's
``point.json`` in the sweep directory, and, for points that ran where the sweep directory is not
visible (a Ray cluster), their runs in the tracking store. A point that started but left no
record is ``KILLED``; one that never started is ``NOT_RUN``.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["FAILED_STATUSES", "Row", "collect_rows", "format_table", "plot_rows", "write_csv"]

POINT_FILE = "point.json"
#: Statuses of points that did not finish. INVALID: a point refused when it ran (an optimising
#: sweeper's trial, which no check before the sweep could see); the other points are valid.
FAILED_STATUSES = ("FAILED", "KILLED", "NOT_RUN", "INVALID")
_MAX_METRIC_COLUMNS = 12
_FIRST_METRICS = (
    "ev/",
    "std/",
    "hellinger_fidelity",
    "best_energy",
    "error_to_exact",
    "approximation_ratio",
    "scan_minimum",
)
_LAST_METRICS = ("time_total_s", "usage_s")


@dataclass
class Row:
    """One point of a sweep."""

    job: int | None
    overrides: list[str]
    status: str
    objective: float | None = None
    run_id: str | None = None
    reused_from: str | None = None
    error: str | None = None
    tracked: bool = True
    metrics: dict[str, float] = field(default_factory=dict)

    def value(self, key: str) -> str | None:
        """The value this point gives to a swept key."""
        for override in self.overrides:
            name, _, value = override.lstrip("+~").partition("=")
            if name == key:
                return value
        return None


def collect_rows(sweep_dir: Path, points: list[list[str]] | None, store_runs: Sequence[Any] = ()) -> list[Row]:
    """Every point's row, in job order: from ``point.json`` files, then from the store."""
    rows: dict[int, Row] = {}
    for folder in sorted(p for p in Path(sweep_dir).iterdir() if (p / ".hydra").is_dir() or (p / POINT_FILE).is_file()):
        row = _row_from_folder(folder)
        if row.job is not None:
            rows[row.job] = row
    for run in store_runs:
        job = run.data.tags.get("sweep_job")
        if job is not None and job.isdigit() and int(job) not in rows:
            rows[int(job)] = _row_from_run(int(job), run)
    for job, overrides in enumerate(points or []):
        rows.setdefault(job, Row(job, list(overrides), "NOT_RUN"))
    return [rows[job] for job in sorted(rows)]


def _row_from_folder(folder: Path) -> Row:
    overrides = _overrides(folder)
    job = int(folder.name) if folder.name.isdigit() else None
    try:
        record = json.loads((folder / POINT_FILE).read_text())
    except (OSError, ValueError):
        return Row(job, overrides, "KILLED", error="the point stopped before it recorded an outcome")
    job = record["job"] if isinstance(record.get("job"), int) else job
    return Row(
        job,
        record.get("overrides") or overrides,
        record.get("status", "KILLED"),
        _finite(record.get("objective")),
        record.get("run_id"),
        record.get("reused_from"),
        record.get("error"),
        bool(record.get("tracked", True)),
        {k: v for k, v in (record.get("metrics") or {}).items() if _finite(v) is not None},
    )


def _row_from_run(job: int, run: Any) -> Row:
    overrides = json.loads(run.data.tags.get("overrides", "[]"))
    status = run.info.status if run.info.status in ("FINISHED", "FAILED", "KILLED") else "KILLED"
    metrics = dict(run.data.metrics)
    return Row(
        job,
        overrides,
        status,
        _finite(metrics.get("objective")),
        run.info.run_id,
        error=run.data.tags.get("failure_reason"),
        metrics=metrics,
    )


def _overrides(folder: Path) -> list[str]:
    path = folder / ".hydra" / "overrides.yaml"
    try:
        from omegaconf import OmegaConf

        return [str(item) for item in OmegaConf.load(path)]
    except Exception:  # no Hydra record in this folder
        return []


def _finite(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def metric_columns(rows: list[Row]) -> list[str]:
    """The metrics shown per row: values and fidelities first, timings last, at most 12."""
    keys = {key for row in rows for key in row.metrics if key != "objective"}
    first = sorted(k for k in keys if k.startswith(_FIRST_METRICS))
    last = [k for k in _LAST_METRICS if k in keys]
    return (first + last)[:_MAX_METRIC_COLUMNS]


def write_csv(rows: list[Row], swept: list[str], path: Path) -> Path:
    """``sweep_summary.csv``: job, swept values, status, objective, key metrics, run id, overrides."""
    columns = metric_columns(rows)
    with Path(path).open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["job", *swept, "status", "objective", *columns, "run_id", "reused_from", "error", "overrides"])
        for row in rows:
            writer.writerow(
                [
                    row.job,
                    *(row.value(k) for k in swept),
                    row.status,
                    row.objective,
                    *(row.metrics.get(c) for c in columns),
                    row.run_id,
                    row.reused_from,
                    row.error,
                    " ".join(row.overrides),
                ]
            )
    return Path(path)


def format_table(rows: list[Row], swept: list[str], objective_name: str) -> str:
    """The rows as an aligned text table for the terminal."""
    header = ["#", *swept, "status", f"objective ({objective_name})", "time_total_s"]
    lines = [header]
    for row in rows:
        status = row.status + (" (reused)" if row.reused_from else "")
        time_total = row.metrics.get("time_total_s")
        lines.append(
            [
                str(row.job),
                *(str(row.value(k)) for k in swept),
                status,
                "-" if row.objective is None else f"{row.objective:+.6g}",
                "-" if time_total is None else f"{time_total:.2f}",
            ]
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    return "\n".join(
        "  " + "  ".join(cell.ljust(width) for cell, width in zip(line, widths)).rstrip() for line in lines
    )


def plot_rows(rows: list[Row], swept: list[str], objective_name: str, path: Path) -> Path | None:
    """``sweep_summary.png``: the objective against one swept key (a line), two (a heat map), or
    the point number; None when no point produced an objective."""
    done = [row for row in rows if row.objective is not None]
    if not done:
        return None
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7.0, 4.2), dpi=110)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    if len(swept) == 2:
        _heat_map(fig, ax, done, swept)
    else:
        key = swept[0] if len(swept) == 1 else None
        # the swept values (None where a point leaves the key unset), as matplotlib takes them
        labels: list[Any] = [row.value(key) if key else str(row.job) for row in done]
        numeric = all(_finite(label) is not None for label in labels)
        order = sorted(range(len(done)), key=lambda i: float(labels[i])) if numeric else range(len(done))
        xs = [float(labels[i]) if numeric else labels[i] for i in order]
        objectives: list[Any] = [done[i].objective for i in order]  # none is None: the points done
        ax.plot(xs, objectives, "o-")
        ax.set_xlabel(key or "point")
        ax.set_ylabel(objective_name)
    failed = sum(row.status in FAILED_STATUSES for row in rows)
    ax.set_title(f"sweep: {objective_name} over {len(rows)} points" + (f" ({failed} failed)" if failed else ""))
    fig.tight_layout()
    fig.savefig(path)
    return Path(path)


def _heat_map(fig, ax, rows: list[Row], swept: list[str]) -> None:
    import numpy as np

    xs = list(dict.fromkeys(row.value(swept[0]) for row in rows))
    ys = list(dict.fromkeys(row.value(swept[1]) for row in rows))
    grid = np.full((len(ys), len(xs)), np.nan)
    for row in rows:
        grid[ys.index(row.value(swept[1])), xs.index(row.value(swept[0]))] = row.objective
    image = ax.imshow(grid, origin="lower", aspect="auto", cmap="viridis")
    ax.set_xticks(range(len(xs)), xs, rotation=45 if len(xs) > 6 else 0)
    ax.set_yticks(range(len(ys)), ys)
    ax.set_xlabel(swept[0])
    ax.set_ylabel(swept[1])
    fig.colorbar(image, ax=ax)
