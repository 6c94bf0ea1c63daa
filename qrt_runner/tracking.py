"""MLflow tracking of one run: parameters, tags, metrics and artifacts, through ``MlflowClient``.

The tracker talks to MLflow only through :class:`mlflow.tracking.MlflowClient` (never the
fluent ``mlflow.start_run`` API and its global "active run"), so several runs, parent runs of a
Hydra multirun and tests can coexist in one process.

What one run records:

* **params**: the resolved config, flattened to dotted keys (``circuit.num_qubits``), values
  truncated to MLflow's limit; the full text is the ``config.yaml`` artifact.
* **tags**: package versions (``version.qiskit``), backend, primitive, mode, session and job ids,
  seeds, git commit and dirty flag, result status.
* **metrics**: per flattened parameter-set index (the metric step) the expectation values and
  standard errors (Estimator) or shots, distinct outcomes and Hellinger fidelity (Sampler); the
  timings, the number of finished jobs and their summed usage.
* **artifacts**: ``config.yaml``, ``results.json``, ``{name}.qpy`` and ``{name}.txt`` per circuit
  and ``plot.png``; each is first written into the run directory, which keeps its copy.

Creating a client for a fresh sqlite database runs MLflow's schema migrations (seconds), so a
client is made once per (process, URI) and reused. Relative sqlite paths are made absolute when
the tracker is created, so a later change of working directory does not switch databases, and
artifacts of experiments this module creates go to an absolute ``mlartifacts`` folder beside the
database file.
"""

from __future__ import annotations

import logging
import math
import numbers
import re
import subprocess
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from qiskit.circuit import QuantumCircuit

    from qrt_runner.results import RunResult

__all__ = ["MlflowTracker", "flatten_config", "git_commit"]

_LOG = logging.getLogger(__name__)

#: MLflow's system tag that nests a run under its parent in the UI.
PARENT_RUN_TAG = "mlflow.parentRunId"
#: MLflow's system tag for the source commit (shown in the run page of the UI).
_SOURCE_COMMIT_TAG = "mlflow.source.git.commit"

_TERMINAL_STATUSES = ("FINISHED", "FAILED", "KILLED")
_FAILED_STATUSES = ("FAILED", "KILLED")

# Fallbacks match MLflow 3; the real values are read from mlflow.utils.validation when present.
_DEFAULT_MAX_PARAM_VAL_LENGTH = 6000
_DEFAULT_MAX_TAG_VAL_LENGTH = 8000
_DEFAULT_MAX_KEY_LENGTH = 250
_PARAMS_TAGS_PER_BATCH = 100
_ENTITIES_PER_BATCH = 1000

# Text drawings: circuits with more operations than this are summarised, not drawn (drawing
# cost grows with size); lines are cut at this many columns; circuits wider than this many
# qubits (ISA circuits on large devices) are drawn without their idle wires.
_MAX_DRAW_OPS = 5000
_MAX_TEXT_COLUMNS = 2000
_MAX_DRAWN_IDLE_QUBITS = 16

_GIT_TIMEOUT_S = 5.0

_INVALID_KEY_CHARS = re.compile(r"[^\w.\- :]")
_INVALID_NAME_CHARS = re.compile(r"[^\w.\-]")
_INVALID_LABEL_CHARS = re.compile(r"[^\w.\-]+")

# Process-wide state: clients per normalized URI, experiment ids, parent runs of sweeps.
_LOCK = threading.RLock()
_CLIENTS: dict[str, MlflowClient] = {}
_EXPERIMENT_IDS: dict[tuple[str, str], str] = {}


@dataclass
class _ParentRun:
    uri: str
    run_id: str
    child_failed: bool = False


# (normalized uri, experiment name, sweep key) -> open parent run.
_PARENTS: dict[tuple[str, str, str], _ParentRun] = {}
# child run id -> parent run id, for the children started by this process.
_CHILD_PARENT: dict[str, str] = {}


def flatten_config(config: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """Flatten a nested config into dotted keys with string values.

    Nested mappings become dotted keys; lists, tuples and every other value are stringified
    as a whole (``str(value)``), so ``None`` becomes ``"None"``. An empty mapping is kept as the
    value ``"{}"`` so that it stays visible.

    Args:
        config: The (plain-Python) config, e.g. ``OmegaConf.to_container(cfg, resolve=True)``.
        prefix: Prepended to every key, joined with a dot.

    Returns:
        A dict such as ``{"circuit.num_qubits": "3", "observables.terms": "['ZZ', 'XX']"}``.

    Example:
        >>> flatten_config({"a": {"b": 1, "c": [1, 2]}, "d": None})
        {'a.b': '1', 'a.c': '[1, 2]', 'd': 'None'}
    """
    flat: dict[str, str] = {}
    for key, value in config.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, Mapping):
            if value:
                flat.update(flatten_config(value, name))
            else:
                flat[name] = "{}"
        else:
            flat[name] = str(value)
    return flat


def git_commit(directory: Path) -> tuple[str | None, bool]:
    """The HEAD commit of the git work tree that contains ``directory``, and whether it is dirty.

    Dirty means tracked files differ from HEAD (staged or not); untracked files do not count,
    so run outputs written inside the repository do not mark it dirty. Never raises: a missing
    ``git`` executable, a directory outside any repository, a repository without commits or a
    slow ``git`` all give ``(None, False)``.

    Args:
        directory: Any directory (or file) inside the work tree; a path that does not exist is
            replaced by its nearest existing parent.

    Returns:
        ``(commit_sha, dirty)``, or ``(None, False)`` when there is no commit to report.
    """
    path = Path(directory).absolute()
    while not path.is_dir() and path != path.parent:
        path = path.parent
    head = _git(path, "rev-parse", "--verify", "HEAD")
    if head is None or not head:
        return None, False
    status = _git(path, "status", "--porcelain", "--untracked-files=no")
    return head, bool(status)


def _git(directory: Path, *args: str) -> str | None:
    """Output of ``git -C directory *args`` (stripped), or None when it fails in any way."""
    try:
        proc = subprocess.run(
            ["git", "-C", str(directory), *args],
            capture_output=True,
            text=True,
            timeout=_GIT_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if proc.returncode != 0:
        return None
    return proc.stdout.strip()


class MlflowTracker:
    """Records runs of one MLflow experiment.

    Args:
        uri: Any MLflow tracking URI (``sqlite:///mlflow.db``, ``http://host:5000``, ...).
            A relative sqlite path is resolved against the current directory now.
        experiment_name: Created if missing (with its artifact root in ``mlartifacts`` beside
            the database for sqlite URIs); restored if it was deleted.

    Attributes:
        uri: The normalized tracking URI.
        experiment_name: The experiment's name.
        experiment_id: The experiment's id.
        client: The process-wide ``MlflowClient`` of ``uri``.
    """

    def __init__(self, uri: str, experiment_name: str) -> None:
        self.uri = _normalize_uri(uri)
        self.experiment_name = experiment_name
        self.client = _client(self.uri)
        self.experiment_id = _experiment_id(self.client, self.uri, experiment_name)

    @staticmethod
    def client_for(uri: str):
        """The process-wide ``MlflowClient`` of ``uri``."""
        return _client(_normalize_uri(uri))

    def log_metrics(self, run_id: str, metrics: Mapping[str, float], step: int) -> None:
        """Log several metrics at one ``step`` in one call (NaN and None are skipped)."""
        from mlflow.entities import Metric

        timestamp = int(time.time() * 1000)
        entities = [
            Metric(_safe_key(key), float(value), timestamp, int(step))
            for key, value in metrics.items()
            if value is not None and math.isfinite(float(value))
        ]
        if entities:
            self.client.log_batch(run_id, metrics=entities, synchronous=True)

    def log_artifact(self, run_id: str, path: Path) -> None:
        """Upload one file as an artifact of the run."""
        self.client.log_artifact(run_id, str(path))

    def start_run(
        self,
        run_name: str | None,
        tags: dict[str, str],
        parent_run_id: str | None = None,
    ) -> str:
        """Create a RUNNING run in the experiment.

        Args:
            run_name: Display name; MLflow generates one when None.
            tags: Extra tags set at creation.
            parent_run_id: Nests the run under this run (tag ``mlflow.parentRunId``).

        Returns:
            The new run's id.
        """
        all_tags = {key: _truncate(str(value), _max_tag_length()) for key, value in tags.items()}
        if parent_run_id is not None:
            all_tags[PARENT_RUN_TAG] = parent_run_id
        run = self.client.create_run(self.experiment_id, tags=all_tags, run_name=run_name)
        run_id = run.info.run_id
        if parent_run_id is not None:
            with _LOCK:
                _CHILD_PARENT[run_id] = parent_run_id
        return run_id

    def log_run(
        self,
        run_id: str,
        *,
        config: Mapping[str, Any],
        config_yaml: str,
        result: RunResult,
        run_dir: Path,
        circuits: Mapping[str, QuantumCircuit],
    ) -> None:
        """Log one run's config, provenance, results and artifacts.

        Params, tags and metrics go in as few ``log_batch`` calls as MLflow's batch limits
        allow (100 params, 100 tags, 1000 entities per call). Artifacts are written into
        ``run_dir`` (created if needed; ``results.json`` only if not there yet), then uploaded
        one by one; the files stay in ``run_dir``.

        Args:
            run_id: A run from :meth:`start_run`.
            config: The resolved config as plain Python containers.
            config_yaml: The same config as YAML text (artifact ``config.yaml``).
            result: The run's outcome.
            run_dir: The run directory (Hydra's output directory).
            circuits: Circuits to keep, by artifact name (e.g. ``{"circuit": qc,
                "circuit_isa": isa}``); each gives ``{name}.qpy`` and ``{name}.txt``.
        """
        from mlflow.entities import Param, RunTag

        run_dir = Path(run_dir)
        params = [
            Param(key, _truncate(value, _max_param_length()))
            for key, value in _unique_keys(flatten_config(config).items())
        ]
        tags = [
            RunTag(key, _truncate(value, _max_tag_length()))
            for key, value in _result_tags(result, run_dir).items()
        ]
        metrics = _result_metrics(result)
        _log_batches(self.client, run_id, params, tags, metrics)

        for path in _write_artifacts(run_dir, config_yaml, result, circuits):
            self.client.log_artifact(run_id, str(path))

    def end_run(self, run_id: str, status: str, reason: str | None = None) -> None:
        """Terminate a run.

        A FAILED or KILLED child of a parent run opened by :meth:`parent_run` in this process
        makes that parent close as FAILED.

        Args:
            run_id: The run.
            status: ``"FINISHED"``, ``"FAILED"`` or ``"KILLED"``.
            reason: Why it failed; set as tag ``failure_reason``.

        Raises:
            ValueError: If ``status`` is not a terminal MLflow run status.
        """
        status = _check_status(status)
        if reason is not None:
            self.client.set_tag(run_id, "failure_reason", _truncate(str(reason), _max_tag_length()))
        self.client.set_terminated(run_id, status)
        if status in _FAILED_STATUSES:
            with _LOCK:
                parent_id = _CHILD_PARENT.get(run_id)
                for parent in _PARENTS.values():
                    if parent.run_id == parent_id:
                        parent.child_failed = True

    def parent_run(self, sweep_key: str, run_name: str, tags: dict[str, str]) -> str:
        """The parent run of a sweep (Hydra multirun), created on the first call.

        Within a process, every call with the same ``sweep_key`` (and the same URI and
        experiment) returns the same run until :meth:`close_parents` closes it; a later call
        then opens a new parent.

        Args:
            sweep_key: Identifies the sweep, e.g. Hydra's sweep directory.
            run_name: Display name of the parent.
            tags: Tags set when the parent is created (plus ``sweep_key``).

        Returns:
            The parent run's id.
        """
        key = (self.uri, self.experiment_name, sweep_key)
        with _LOCK:
            parent = _PARENTS.get(key)
            if parent is None:
                run_id = self.start_run(run_name, {**tags, "sweep_key": sweep_key})
                parent = _PARENTS[key] = _ParentRun(self.uri, run_id)
            return parent.run_id

    def close_parents(self, status: str) -> None:
        """End every parent run this process opened and has not closed yet.

        Args:
            status: The status to end them with, normally ``"FINISHED"``; a parent with a
                FAILED or KILLED child ends FAILED instead of FINISHED.

        Raises:
            ValueError: If ``status`` is not a terminal MLflow run status.
        """
        status = _check_status(status)
        with _LOCK:
            parents = list(_PARENTS.items())
            for key, parent in parents:
                final = "FAILED" if parent.child_failed and status == "FINISHED" else status
                _client(parent.uri).set_terminated(parent.run_id, final)
                del _PARENTS[key]
                for child, parent_id in list(_CHILD_PARENT.items()):
                    if parent_id == parent.run_id:
                        del _CHILD_PARENT[child]


# --- client and experiment ----------------------------------------------------------------


def _normalize_uri(uri: str) -> str:
    """Make the database path of a sqlite URI absolute; leave every other URI alone."""
    db = _sqlite_path(uri)
    if db is None:
        return uri
    query = uri.partition("?")[2]
    normalized = f"sqlite:///{db}"
    return f"{normalized}?{query}" if query else normalized


def _sqlite_path(uri: str) -> Path | None:
    """The absolute database file of a ``sqlite:///`` URI; None for other or in-memory URIs."""
    if not uri.startswith("sqlite:///"):
        return None
    path = uri[len("sqlite:///") :].partition("?")[0]
    if not path or path == ":memory:":
        return None
    return Path(path).expanduser().absolute()


def _client(uri: str) -> MlflowClient:
    """The process-wide client of ``uri`` (a normalized URI), created on first use."""
    with _LOCK:
        client = _CLIENTS.get(uri)
        if client is None:
            from mlflow import MlflowClient

            client = _CLIENTS[uri] = MlflowClient(tracking_uri=uri)
        return client


def _experiment_id(client: MlflowClient, uri: str, name: str) -> str:
    """Id of experiment ``name``, created (or restored) when needed; cached per process."""
    with _LOCK:
        cached = _EXPERIMENT_IDS.get((uri, name))
        if cached is not None:
            return cached
        experiment = client.get_experiment_by_name(name)
        if experiment is None:
            experiment_id = client.create_experiment(
                name, artifact_location=_artifact_root(uri, name)
            )
        else:
            experiment_id = experiment.experiment_id
            if experiment.lifecycle_stage == "deleted":
                _LOG.warning("MLflow experiment %r was deleted; restoring it", name)
                client.restore_experiment(experiment_id)
        _EXPERIMENT_IDS[(uri, name)] = experiment_id
        return experiment_id


def _artifact_root(uri: str, experiment_name: str) -> str | None:
    """``file://.../mlartifacts/<experiment>`` beside a sqlite database; None otherwise."""
    db = _sqlite_path(uri)
    if db is None:
        return None
    return (db.parent / "mlartifacts" / _safe_name(experiment_name)).as_uri()


# --- params, tags, metrics ----------------------------------------------------------------


def _result_tags(result: RunResult, run_dir: Path) -> dict[str, str]:
    tags = {f"version.{package}": str(version) for package, version in result.versions.items()}
    tags.update(
        backend=str(result.backend),
        primitive=str(result.primitive),
        mode=str(result.mode),
        status=str(result.status),
        job_ids=",".join(job.job_id for job in result.jobs),
    )
    if result.session_id is not None:
        tags["session_id"] = str(result.session_id)
    tags.update({f"seed.{name}": str(seed) for name, seed in result.seeds.items()})
    commit, dirty = git_commit(run_dir)
    if commit is None:
        commit, dirty = git_commit(Path.cwd())
    if commit is not None:
        tags["git_commit"] = commit
        tags["git_dirty"] = str(dirty).lower()
        tags[_SOURCE_COMMIT_TAG] = commit
    return {key: value for key, value in _unique_keys(tags.items())}


def _result_metrics(result: RunResult) -> list[Any]:
    from mlflow.entities import Metric

    timestamp = int(time.time() * 1000)
    metrics: list[Metric] = []

    def add(key: str, value: float, step: int = 0) -> None:
        value = float(value)
        if math.isfinite(value):
            metrics.append(Metric(_safe_key(key), value, timestamp, int(step)))

    if result.estimator is not None:
        est = result.estimator
        labels = list(est.observable_labels)
        n_obs = len(labels)
        evs = _as_sets(est.evs, n_obs)
        stds = _as_sets(est.stds, n_obs)
        for k, label in enumerate(labels):
            suffix = f"{k}_{_INVALID_LABEL_CHARS.sub('_', str(label))}"  # "ZZI + IZZ" -> ZZI_IZZ
            for step in range(evs.shape[0]):
                add(f"ev/{suffix}", evs[step, k], step)
                add(f"std/{suffix}", stds[step, k], step)
    if result.sampler is not None:
        sampler = result.sampler
        for step, counts in enumerate(sampler.counts):
            if counts is not None:
                add("shots", sum(counts.values()), step)
                add("distinct_outcomes", len(counts), step)
        for step, fidelity in enumerate(sampler.hellinger_fidelity or []):
            if fidelity is not None:
                add("hellinger_fidelity", fidelity, step)
    if result.optimization is not None:
        for key in ("best_energy", "final_energy", "exact_energy", "error_to_exact", "best_cut", "expected_cut",
                    "optimal_cut", "approximation_ratio", "iterations", "evaluations"):
            value = result.optimization.get(key)
            if isinstance(value, numbers.Real) and not isinstance(value, bool):
                add(key, value)
    for job_index, job in enumerate((result.mitigation or {}).get("jobs") or []):
        add("mitigation_circuits", job.get("num_circuits", 0), job_index)
        add("mitigation_shots_spent", job.get("shots_spent", 0), job_index)
        for key, value in (job.get("pec") or {}).items():
            if key in ("noise_gain", "gamma", "sampling_overhead"):
                add(f"pec_{key}", value, job_index)
    if result.sampler is not None and result.sampler.hellinger_fidelity_mitigated:
        for step, fidelity in enumerate(result.sampler.hellinger_fidelity_mitigated):
            if fidelity is not None:
                add("hellinger_fidelity_mitigated", fidelity, step)
    if result.scan is not None and result.scan.get("minimum") is not None:
        add("scan_minimum", result.scan["minimum"])
    for name, seconds in result.timings.items():
        if isinstance(seconds, numbers.Real) and not isinstance(seconds, bool):
            add(name, seconds)
    add("jobs_finished", sum(1 for job in result.jobs if job.status == "DONE"))
    add("usage_s", sum(float(job.usage_s) for job in result.jobs))
    return metrics


def _as_sets(values: Any, n_obs: int) -> Any:
    """``param_shape + (n_obs,)`` array -> ``(n_sets, n_obs)`` float array."""
    import numpy as np

    array = np.asarray(values, dtype=float)
    return array.reshape(-1, n_obs) if n_obs else array.reshape(-1, 0)


def _log_batches(
    client: MlflowClient, run_id: str, params: list[Any], tags: list[Any], metrics: list[Any]
) -> None:
    """Send params, tags and metrics in as few ``log_batch`` calls as MLflow accepts."""
    while params or tags or metrics:
        batch_params, params = params[:_PARAMS_TAGS_PER_BATCH], params[_PARAMS_TAGS_PER_BATCH:]
        batch_tags, tags = tags[:_PARAMS_TAGS_PER_BATCH], tags[_PARAMS_TAGS_PER_BATCH:]
        room = _ENTITIES_PER_BATCH - len(batch_params) - len(batch_tags)
        batch_metrics, metrics = metrics[:room], metrics[room:]
        client.log_batch(
            run_id, metrics=batch_metrics, params=batch_params, tags=batch_tags, synchronous=True
        )


def _unique_keys(items: Iterable[tuple[str, str]]) -> Iterable[tuple[str, str]]:
    """Make keys valid MLflow names; a key that collides after cleaning gets a ``_N`` suffix."""
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
    """A valid MLflow param/metric/tag key: allowed characters only, no leading dot, <= 250.

    Slashes are kept only where this module puts them (``ev/...``); any other character outside
    MLflow's set becomes ``_``.
    """
    parts = [_INVALID_KEY_CHARS.sub("_", part) for part in key.split("/")]
    parts = [part if part and not part.startswith(".") else f"_{part}" for part in parts]
    return "/".join(parts)[:_DEFAULT_MAX_KEY_LENGTH]


def _safe_name(name: str) -> str:
    """A file-name-safe version of ``name``."""
    cleaned = _INVALID_NAME_CHARS.sub("_", name).lstrip(".")
    return cleaned or "_"


def _truncate(value: str, limit: int) -> str:
    if len(value) <= limit:
        return value
    marker = "...[truncated]"
    return value[: limit - len(marker)] + marker


def _max_param_length() -> int:
    try:
        from mlflow.utils.validation import MAX_PARAM_VAL_LENGTH
    except ImportError:
        return _DEFAULT_MAX_PARAM_VAL_LENGTH
    return int(MAX_PARAM_VAL_LENGTH)


def _max_tag_length() -> int:
    try:
        from mlflow.utils.validation import MAX_TAG_VAL_LENGTH
    except ImportError:
        return _DEFAULT_MAX_TAG_VAL_LENGTH
    return int(MAX_TAG_VAL_LENGTH)


def _check_status(status: str) -> str:
    upper = str(status).upper()
    if upper not in _TERMINAL_STATUSES:
        raise ValueError(
            f"run status {status!r} is not one of {', '.join(_TERMINAL_STATUSES)}"
        )
    return upper


# --- artifacts ----------------------------------------------------------------------------


def _write_artifacts(
    run_dir: Path,
    config_yaml: str,
    result: RunResult,
    circuits: Mapping[str, QuantumCircuit],
) -> list[Path]:
    """Write every artifact file not yet in ``run_dir`` (config and results are kept) and return their paths."""
    run_dir.mkdir(parents=True, exist_ok=True)
    paths = []

    config_path = run_dir / "config.yaml"
    if not config_path.exists():  # qrt-run writes it before the run starts
        config_path.write_text(config_yaml)
    paths.append(config_path)

    results_path = run_dir / "results.json"
    if not results_path.exists():
        result.write_json(results_path)
    paths.append(results_path)

    if circuits:
        from qiskit import qpy

        for name, circuit in circuits.items():
            stem = _safe_name(name)
            qpy_path = run_dir / f"{stem}.qpy"
            with qpy_path.open("wb") as handle:
                qpy.dump(circuit, handle)
            text_path = run_dir / f"{stem}.txt"
            text_path.write_text(_circuit_text(circuit, stem))
            paths.extend([qpy_path, text_path])

    from qrt_runner.plots import plot_result

    try:
        plot_path = plot_result(result, run_dir / "plot.png")
    except Exception:  # a broken plot must not lose the run's record
        _LOG.warning("could not plot the result of %s", run_dir, exc_info=True)
        plot_path = None
    if plot_path is not None:
        paths.append(Path(plot_path))
    return paths


def _circuit_text(circuit: QuantumCircuit, stem: str) -> str:
    """The text drawing of ``circuit``, summarised or cut when it would be huge."""
    summary = (
        f"# {circuit.name}: {circuit.num_qubits} qubits, {circuit.num_clbits} clbits, "
        f"size {circuit.size()}, depth {circuit.depth()}, ops {dict(circuit.count_ops())}\n"
    )
    if circuit.size() > _MAX_DRAW_OPS:
        return (
            summary
            + f"# not drawn: more than {_MAX_DRAW_OPS} operations; load {stem}.qpy with "
            "qiskit.qpy.load to inspect it\n"
        )
    idle_wires = circuit.num_qubits <= _MAX_DRAWN_IDLE_QUBITS
    text = str(circuit.draw(output="text", fold=-1, idle_wires=idle_wires))
    lines = text.splitlines()
    if all(len(line) <= _MAX_TEXT_COLUMNS for line in lines):
        return text + "\n"
    cut = "\n".join(line[:_MAX_TEXT_COLUMNS] for line in lines)
    return (
        summary
        + f"# drawing cut at {_MAX_TEXT_COLUMNS} columns; the full circuit is in {stem}.qpy\n"
        + cut
        + "\n"
    )
