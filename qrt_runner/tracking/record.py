"""A finished run into its record: artifacts written into its directory, then tags, metrics and files."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from qrt_runner.tracking.artifacts import write_run_artifacts
from qrt_runner.tracking.content import Metric, result_metrics, result_tags

if TYPE_CHECKING:
    from qiskit.circuit import QuantumCircuit

    from qrt_runner.results import RunResult
    from qrt_runner.tracking.tracker import RunTracker

__all__ = ["record_result"]


def record_result(
    tracker: RunTracker,
    result: RunResult,
    run_dir: Path,
    circuits: Mapping[str, QuantumCircuit],
    extra_metrics: Sequence[Metric] = (),
    extra_files: Sequence[Path] = (),
) -> list[Path]:
    """Write the run's artifacts (``results.json`` is kept if already there) and record them.

    Returns the files recorded as artifacts; the run is not ended here.
    """
    run_dir = Path(run_dir)
    results = run_dir / "results.json"
    if not results.exists():
        result.write_json(results)
    files = [
        results,
        *write_run_artifacts(run_dir, result, circuits),
        *(Path(f) for f in extra_files if Path(f).is_file()),
    ]
    tracker.set_tags(result_tags(result, run_dir))
    tracker.log_metric_series([*result_metrics(result), *extra_metrics])
    for path in files:
        tracker.log_artifact(path)
    return files
