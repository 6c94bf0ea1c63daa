"""The MLflow tracking store, through ``MlflowClient`` only (never the fluent API's global run).

One :class:`MlflowStore` per (tracking URI, experiment) and process. Opening it is safe when
many processes open a fresh store at once: the database's creation (MLflow's schema migrations)
happens under a file lock beside the database for a sqlite URI, and under a PostgreSQL advisory
lock for a ``postgresql`` URI (MLflow alone lets all but one of them fail: duplicate tables);
an experiment that another process created first is simply used. Experiments this module creates are marked as
model-development experiments (MLflow's ``mlflow.experimentKind`` tag), so MLflow's UI opens
them in its training-runs view; a sqlite store keeps their artifacts in ``mlartifacts/`` beside
the database file.

Keys are made valid MLflow names here (allowed characters only, at most 250 characters; a key
that collides after cleaning gets a ``_N`` suffix) and values are cut to MLflow's limits, with
NUL characters written as ``\x00`` (PostgreSQL refuses them in text, so the same record is
kept whatever the store). MLflow's "View run at ..." lines, which its client prints for each run
ended on a tracking server, and its download progress bars are left out
(``MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT``, ``MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR``).
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import threading
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from mlflow.entities import Run

__all__ = ["MlflowStore", "normalize_uri", "open_store", "sqlite_lacks_tag"]

_LOG = logging.getLogger(__name__)

PARENT_RUN_TAG = "mlflow.parentRunId"
EXPERIMENT_KIND_TAG = "mlflow.experimentKind"
EXPERIMENT_KIND = "custom_model_development"
_TERMINAL_STATUSES = ("FINISHED", "FAILED", "KILLED")
_MAX_PARAM_VAL_LENGTH = 6000
_MAX_TAG_VAL_LENGTH = 8000
_MAX_KEY_LENGTH = 250
_MAX_RUN_NAME_LENGTH = 250
_PARAMS_TAGS_PER_BATCH = 100
_ENTITIES_PER_BATCH = 1000
_INVALID_KEY_CHARS = re.compile(r"[^\w.\- :]")
_INVALID_NAME_CHARS = re.compile(r"[^\w.\-]")
# A dead tracking server must cost seconds, not MLflow's default 7 retries with backoff (~4 min).
_HTTP_DEFAULTS = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "1",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "10",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    # qrt-run prints its own record; MLflow's lines would interleave it, two per run of a sweep
    "MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT": "true",
    # nor progress bars on stderr for files fetched from a server (a resumed run's state)
    "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
}
# Held while a PostgreSQL store is opened (its schema created or migrated), in the database's
# own lock space: the key is the first 8 bytes of sha256(b"qrt_runner.mlflow_store"), signed.
_PG_LOCK_KEY = -1973443428056689915

_LOCK = threading.RLock()
_STORES: dict[tuple[str, str | None], MlflowStore] = {}


def normalize_uri(uri: str) -> str:
    """One spelling per store: the database path of a sqlite URI made absolute; a server's URI
    with its scheme and host in lower case and no trailing slash (``http://Host:5000/`` is
    ``http://host:5000``); every other URI left alone."""
    if uri[:8].lower().startswith(("http://", "https://")):
        parts = urlsplit(uri)
        netloc = parts.netloc if "@" in parts.netloc else parts.netloc.lower()  # no credentials lowered
        return urlunsplit((parts.scheme.lower(), netloc, parts.path.rstrip("/"), parts.query, parts.fragment))
    db = sqlite_path(uri)
    if db is None:
        return uri
    query = uri.partition("?")[2]
    normalized = f"sqlite:///{db}"
    return f"{normalized}?{query}" if query else normalized


def sqlite_path(uri: str) -> Path | None:
    """The absolute database file of a ``sqlite:///`` URI; None for other or in-memory URIs."""
    if not uri.startswith("sqlite:///"):
        return None
    path = uri[len("sqlite:///") :].partition("?")[0]
    if not path or path == ":memory:":
        return None
    return Path(path).expanduser().absolute()


def sqlite_lacks_tag(uri: str, key: str, values: Iterable[str]) -> bool:
    """Whether no run in the sqlite store at ``uri`` has tag ``key`` with any of ``values``,
    read straight from the database file (milliseconds, where opening the store through MLflow
    takes seconds; :func:`qrt_runner.adapters.mlflow.sqlite_has_run_tag`). False whenever that
    cannot be told: another kind of store, no database file, or a schema this query does not fit."""
    from qrt_runner.adapters.mlflow import sqlite_has_run_tag

    path = sqlite_path(uri)
    return path is not None and sqlite_has_run_tag(path, key, values) is False


def open_store(uri: str, experiment_name: str | None) -> MlflowStore:
    """The process-wide store of (``uri``, ``experiment_name``), opened (and created) on first use."""
    key = (normalize_uri(uri), experiment_name)
    with _LOCK:
        store = _STORES.get(key)
        if store is None:
            store = _STORES[key] = MlflowStore(*key)
        return store


class MlflowStore:
    """Runs of one MLflow experiment.

    Args:
        uri: A normalized tracking URI (:func:`normalize_uri`).
        experiment_name: Created when missing, restored when deleted.
    """

    def __init__(self, uri: str, experiment_name: str | None) -> None:
        for key, value in _HTTP_DEFAULTS.items():
            os.environ.setdefault(key, value)
        self.uri = uri
        self.experiment_name = experiment_name
        db = sqlite_path(uri)
        from mlflow import MlflowClient  # seconds: not while other processes wait for the lock

        for name in ("mlflow", "alembic"):  # no INFO lines about schema migrations on stderr
            logging.getLogger(name).setLevel(logging.WARNING)
        with _file_lock(db.with_name(db.name + ".lock") if db is not None else None), _postgres_lock(uri):
            self.client: MlflowClient = MlflowClient(tracking_uri=uri)
            # no experiment: a store opened only to read runs by id (nothing is created in it)
            self.experiment_id = self._experiment_id(db) if experiment_name is not None else None

    def _experiment_id(self, db: Path | None) -> str:
        from mlflow.exceptions import MlflowException

        name = self.experiment_name
        assert name is not None  # called only for a store with an experiment
        experiment = self.client.get_experiment_by_name(name)
        if experiment is None:
            artifacts = (db.parent / "mlartifacts" / _safe_name(name)).as_uri() if db else None
            try:
                return self.client.create_experiment(
                    name, artifact_location=artifacts, tags={EXPERIMENT_KIND_TAG: EXPERIMENT_KIND}
                )
            except MlflowException:  # another process created it first
                experiment = self.client.get_experiment_by_name(name)
                if experiment is None:
                    raise
        if experiment.lifecycle_stage == "deleted":
            _LOG.warning("MLflow experiment %r was deleted; restoring it", self.experiment_name)
            self.client.restore_experiment(experiment.experiment_id)
        return experiment.experiment_id

    def create_run(
        self, name: str | None, tags: Mapping[str, str], parent_id: str | None = None, start_time: int | None = None
    ) -> str:
        """A new RUNNING run (nested under ``parent_id``); returns its id."""
        all_tags = {key: _truncate(str(value), _MAX_TAG_VAL_LENGTH) for key, value in _unique_keys(tags.items())}
        if parent_id is not None:
            all_tags[PARENT_RUN_TAG] = parent_id
        assert self.experiment_id is not None  # a store opened only to read runs by id creates none
        name = _truncate(name, _MAX_RUN_NAME_LENGTH) if name is not None else None
        run = self.client.create_run(self.experiment_id, start_time=start_time, tags=all_tags, run_name=name)
        return run.info.run_id

    def log(
        self,
        run_id: str,
        params: Mapping[str, str] | Iterable[tuple[str, str]] = (),
        tags: Mapping[str, str] | Iterable[tuple[str, str]] = (),
        metrics: Iterable[tuple[str, float, int, int]] = (),
    ) -> None:
        """Params, tags and ``(key, value, step, unix ms)`` metrics in as few batches as MLflow allows."""
        from mlflow.entities import Metric, Param, RunTag

        param_list = [Param(k, _truncate(str(v), _MAX_PARAM_VAL_LENGTH)) for k, v in _unique_keys(dict(params).items())]
        tag_list = [RunTag(k, _truncate(str(v), _MAX_TAG_VAL_LENGTH)) for k, v in _unique_keys(dict(tags).items())]
        metric_list = [Metric(_safe_key(k), float(v), int(t), int(s)) for k, v, s, t in metrics]
        while param_list or tag_list or metric_list:
            batch_params, param_list = param_list[:_PARAMS_TAGS_PER_BATCH], param_list[_PARAMS_TAGS_PER_BATCH:]
            batch_tags, tag_list = tag_list[:_PARAMS_TAGS_PER_BATCH], tag_list[_PARAMS_TAGS_PER_BATCH:]
            room = _ENTITIES_PER_BATCH - len(batch_params) - len(batch_tags)
            batch_metrics, metric_list = metric_list[:room], metric_list[room:]
            self.client.log_batch(run_id, metrics=batch_metrics, params=batch_params, tags=batch_tags, synchronous=True)

    def log_artifact(self, run_id: str, path: Path, artifact_path: str | None = None) -> None:
        self.client.log_artifact(run_id, str(path), artifact_path)

    def end_run(self, run_id: str, status: str, end_time: int | None = None) -> None:
        """Terminate a run with a terminal status (FINISHED, FAILED or KILLED)."""
        if status not in _TERMINAL_STATUSES:
            raise ValueError(f"run status {status!r} is not one of {', '.join(_TERMINAL_STATUSES)}")
        self.client.set_terminated(run_id, status, end_time=end_time)

    def run(self, run_id: str) -> Run:
        return self.client.get_run(run_id)

    def search(self, filter_string: str, max_results: int = 1000) -> list[Run]:
        """Runs of this experiment matching an MLflow filter, newest first."""
        assert self.experiment_id is not None  # a store opened only to read runs by id has no runs to search
        return list(
            self.client.search_runs(
                [self.experiment_id],
                filter_string=filter_string,
                max_results=max_results,
                order_by=["attributes.start_time DESC"],
            )
        )

    def search_tags(self, filter_string: str, max_results: int = 1000) -> list[tuple[str, dict[str, str]]]:
        """:meth:`search` as ``(run id, tags)`` pairs: plain values, which a store in another
        process (:mod:`~qrt_runner.tracking.remote`) returns without MLflow imported here."""
        return [(run.info.run_id, dict(run.data.tags)) for run in self.search(filter_string, max_results)]

    def children(self, parent_id: str) -> list[Run]:
        """The runs nested under ``parent_id``."""
        return self.search(f"tags.`{PARENT_RUN_TAG}` = '{parent_id}'")


@contextlib.contextmanager
def _postgres_lock(uri: str) -> Iterator[None]:
    """An exclusive advisory lock in the PostgreSQL database of ``uri`` (none for other URIs),
    held on a connection of its own (SQLAlchemy, with the URI's driver)."""
    if not uri.startswith("postgresql"):
        yield
        return
    import sqlalchemy

    engine = sqlalchemy.create_engine(uri, poolclass=sqlalchemy.pool.NullPool)
    try:
        with engine.connect() as connection:
            connection.execute(sqlalchemy.text("SELECT pg_advisory_lock(:key)"), {"key": _PG_LOCK_KEY})
            try:
                yield
            finally:
                connection.execute(sqlalchemy.text("SELECT pg_advisory_unlock(:key)"), {"key": _PG_LOCK_KEY})
    finally:
        engine.dispose()


@contextlib.contextmanager
def _file_lock(path: Path | None) -> Iterator[None]:
    """An exclusive lock on ``path`` across processes (none where ``fcntl`` is missing)."""
    fcntl: ModuleType | None
    try:
        import fcntl
    except ImportError:
        fcntl = None
    if path is None or fcntl is None or not path.parent.is_dir():
        yield
        return
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _unique_keys(items: Iterable[tuple[str, Any]]) -> Iterator[tuple[str, Any]]:
    seen: set[str] = set()
    for key, value in items:
        safe = _safe_key(key)
        candidate, n = safe, 1
        while candidate in seen:
            n += 1
            candidate = _safe_key(f"{safe}_{n}")
        seen.add(candidate)
        yield candidate, value


def _safe_key(key: str) -> str:
    """A valid MLflow key: allowed characters only, no part starting with a dot, <= 250 characters."""
    parts = [_INVALID_KEY_CHARS.sub("_", part) for part in key.split("/")]
    parts = [part if part and not part.startswith(".") else f"_{part}" for part in parts]
    return "/".join(parts)[:_MAX_KEY_LENGTH]


def _safe_name(name: str) -> str:
    return _INVALID_NAME_CHARS.sub("_", name).lstrip(".") or "_"


def _truncate(value: str, limit: int) -> str:
    """``value`` within ``limit`` characters, NUL characters written as ``\x00``."""
    value = value.replace("\x00", "\\x00")
    if len(value) <= limit:
        return value
    marker = "...[truncated]"
    return value[: limit - len(marker)] + marker
