"""Resuming an optimisation: the saved optimiser state of a run directory or an MLflow run id."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from qrt_runner.config import schema as s
from qrt_runner.errors import ConfigError
from qrt_runner.tasks.optimizers import OptimizerState
from qrt_runner.tasks.variational import STATE_FILE
from qrt_runner.tracking.tracker import live_store

__all__ = ["load_state"]

_DOWNLOAD_PREFIX = "qrt-resume-"


def load_state(resume_from: str, tracking: s.TrackingConfig | None) -> OptimizerState:
    """The last saved optimiser state of a run directory or an MLflow run id.

    For a run id, the run's own directory (its ``run_dir`` tag) is read first: it holds the state
    of the last finished iteration even when the run was killed before it uploaded anything more;
    the store's ``optimizer_state.json`` artifact is the fallback (another machine).
    """
    path = Path(resume_from).expanduser()
    if path.is_dir():
        file = path / STATE_FILE
    elif tracking is None:
        raise ConfigError(
            "task.resume_from",
            resume_from,
            "is not a run directory, and tracking is off",
            "give a run directory, or turn tracking on to resume an MLflow run id",
        )
    else:
        file = _state_of_run(resume_from, tracking)
    if not file.is_file():
        raise ConfigError(
            "task.resume_from",
            resume_from,
            f"has no {STATE_FILE}",
            "give the run directory or MLflow run id of a vqe/qaoa run",
        )
    try:
        return OptimizerState.from_dict(json.loads(_read_once(file)))
    except (ValueError, TypeError, KeyError) as exc:
        raise ConfigError(
            "task.resume_from",
            resume_from,
            f"its {STATE_FILE} is not an optimiser state ({type(exc).__name__}: {exc})",
            "give the run directory or MLflow run id of a vqe/qaoa run",
        ) from None


def _state_of_run(run_id: str, tracking: s.TrackingConfig) -> Path:
    """The run's state file: in its own directory, else downloaded from the store (a temporary
    copy, removed once read)."""
    import tempfile

    live = live_store(tracking.uri, tracking.experiment_name, tracking.timeout_s)
    try:
        run = live.call(lambda store: store.run(run_id))
    except Exception as exc:  # offline store, or no such run
        raise ConfigError(
            "task.resume_from",
            run_id,
            f"is not a run directory, and the run cannot be read from the store ({exc})",
            "give the run directory, or check the run id and tracking.uri",
        ) from None
    local = Path(run.data.tags.get("run_dir", "")) / STATE_FILE
    if local.is_file():
        return local
    folder = tempfile.mkdtemp(prefix=_DOWNLOAD_PREFIX)
    try:
        return Path(live.call(lambda store: store.client.download_artifacts(run_id, STATE_FILE, folder)))
    except Exception as exc:  # offline store, or no such artifact
        shutil.rmtree(folder, ignore_errors=True)
        raise ConfigError(
            "task.resume_from",
            run_id,
            f"no optimiser state found ({exc})",
            "give the run directory or MLflow run id of a vqe/qaoa run",
        ) from None


def _read_once(file: Path) -> str:
    """The file's text; a temporary download is removed after it is read."""
    try:
        return file.read_text()
    finally:
        if file.parent.name.startswith(_DOWNLOAD_PREFIX):
            shutil.rmtree(file.parent, ignore_errors=True)
