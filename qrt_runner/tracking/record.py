"""A finished run into its tracking record: tags, metrics and the files of its directory."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from qrt_runner.tracking.content import Metric, result_metrics, result_tags

if TYPE_CHECKING:
    from qrt_runner.records.results import RunResult
    from qrt_runner.tracking.tracker import RunTracker

__all__ = ["record_result"]


def record_result(
    tracker: RunTracker,
    result: RunResult,
    run_dir: Path,
    files: Sequence[Path],
    extra_metrics: Sequence[Metric] = (),
) -> list[Path]:
    """Record a run's tags and metrics, and its ``files`` (those that exist) as artifacts.

    The files are written beforehand (:func:`qrt_runner.records.artifacts.write_run_artifacts`: circuits,
    plots); tracking only records them. Returns the files recorded; the run is not ended here.
    """
    run_dir = Path(run_dir)
    files = [Path(f) for f in files if Path(f).is_file()]
    tracker.set_tags(result_tags(result, run_dir))
    tracker.log_metric_series([*result_metrics(result), *extra_metrics])
    for path in files:
        tracker.log_artifact(path)
    return files
