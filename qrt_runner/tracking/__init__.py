"""Where a run's record goes: its directory first (a journal), then a tracking store (MLflow).

Importing this package imports neither MLflow nor Qiskit; the store is opened on first use.
"""

from qrt_runner.tracking.content import (
    CONFIG_HASH_TAG,
    config_hash,
    finished_query,
    flatten_config,
    git_commit,
    result_metrics,
    result_tags,
    run_name,
)
from qrt_runner.tracking.journal import Journal
from qrt_runner.tracking.tracker import LiveStore, RunTracker, TrackingUnavailable, live_store

__all__ = [
    "CONFIG_HASH_TAG",
    "Journal",
    "LiveStore",
    "RunTracker",
    "TrackingUnavailable",
    "config_hash",
    "finished_query",
    "flatten_config",
    "git_commit",
    "live_store",
    "result_metrics",
    "result_tags",
    "run_name",
]
