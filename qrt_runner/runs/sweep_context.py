"""What every point of a sweep needs to know about the sweep, passed on by any launcher.

The sweep's callback (in the launching process) appends ``hydra.job.env_set.QRT_SWEEP=<value>``
to the sweep's Hydra overrides, so the value travels inside each point's config to wherever the
launcher runs it (loky workers, SLURM jobs, Ray tasks) and is set in the point's environment.
The value is JSON, base64url-encoded so that it is a plain Hydra override value.
"""

from __future__ import annotations

import base64
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

__all__ = ["ENV_VAR", "SweepContext"]

ENV_VAR = "QRT_SWEEP"


@dataclass(frozen=True)
class SweepContext:
    """The sweep a point belongs to.

    Attributes:
        sweep_dir: The sweep directory (absolute); the parent run's journal is there, and its id
            in the store once the launching process has created it (:meth:`parent_id`).
        uri: The store's URI; experiment: its experiment (None: tracking off).
        swept_keys: The keys the sweep varies (child run names and summary columns).
        threads: Aer threads per point when points run in parallel here (None: the config's).
        resume: Skip points whose identical config already finished in the store.
        uploads: Points keep their records in their journals and the launching process uploads
            them (local pools: :mod:`~qrt_runner.sweep.uploads`).
        cwd: The launching process's working directory, where points run whose worker starts
            elsewhere (a Ray cluster's; None: where the launcher starts them).
        on_cluster: Points run as Ray tasks, which the launching process cancels when the sweep
            is interrupted (a KeyboardInterrupt in the point).
    """

    sweep_dir: str
    uri: str | None = None
    experiment: str | None = None
    swept_keys: list[str] = field(default_factory=list)
    threads: int | None = None
    resume: bool = False
    uploads: bool = False
    cwd: str | None = None
    on_cluster: bool = False

    def enter_launch_dir(self) -> None:
        """Run in the launching process's working directory (:attr:`cwd`), so that the config's
        relative paths (a sqlite store, input files, the user's circuit modules) mean there what
        they meant to the user."""
        import sys

        if self.cwd is None or os.getcwd() == self.cwd:
            return
        os.chdir(self.cwd)
        if self.cwd not in sys.path:
            sys.path.insert(0, self.cwd)

    def parent_id(self, timeout_s: float) -> str | None:
        """The parent run's id in the store, waiting up to ``timeout_s`` for the launching process
        to create it (None: not created in time, tracking off, or the store unavailable)."""
        import time

        from qrt_runner.tracking.journal import Journal

        if self.uri is None:
            return None
        journal = Journal(Path(self.sweep_dir))
        deadline = time.monotonic() + timeout_s
        while True:
            state = journal.sync_state()
            if state and state.get("uri") == self.uri and state.get("run_id"):
                return state["run_id"]
            entries = journal.entries()[:2] if journal.exists() else []
            if time.monotonic() > deadline or (entries and state is None and _offline(entries)):
                return None
            time.sleep(0.05)

    def encode(self) -> str:
        return base64.urlsafe_b64encode(json.dumps(asdict(self)).encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, value: str) -> SweepContext:
        padded = value + "=" * (-len(value) % 4)
        return cls(**json.loads(base64.urlsafe_b64decode(padded.encode())))

    @classmethod
    def from_env(cls) -> SweepContext | None:
        value = os.environ.get(ENV_VAR)
        return cls.decode(value) if value else None


def _offline(entries: list[dict]) -> bool:
    """Whether the parent's journal went on past its start without reaching the store."""
    return len(entries) > 1
