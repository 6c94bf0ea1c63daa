"""A run's tracking record in its own directory: written first, uploaded to a store after.

``tracking.jsonl`` holds one JSON object per line, in the order the run made them:

* ``{"op": "start", "uri", "experiment", "name", "tags", "parent", "parent_dir", "time"}``
* ``{"op": "params", "params": {key: text}}`` and ``{"op": "tags", "tags": {key: text}}``
* ``{"op": "metrics", "time", "metrics": [[key, value, step], ...]}``
* ``{"op": "artifact", "path", "dir"}`` (``path`` relative to the run directory when inside it;
  ``dir``, optional, the folder among the run's artifacts)
* ``{"op": "end", "status", "reason", "time"}``

``tracking_sync.json`` says how far the journal reached a store: ``{"uri", "experiment_id",
"run_id", "synced"}`` (``synced``: the number of journal lines uploaded). A journal whose lines
are not all uploaded is what ``qrt-run sync`` completes.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

__all__ = ["JOURNAL_FILE", "SYNC_FILE", "Journal"]

JOURNAL_FILE = "tracking.jsonl"
SYNC_FILE = "tracking_sync.json"


class Journal:
    """The append-only tracking record of one run directory.

    Args:
        directory: the run (or sweep) directory; created when missing.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self.path = self.directory / JOURNAL_FILE
        self.sync_path = self.directory / SYNC_FILE
        self._count: int | None = None

    def exists(self) -> bool:
        return self.path.is_file()

    def append(self, entry: dict[str, Any]) -> int:
        """Append one entry; returns how many entries the journal then holds."""
        if self._count is None:
            self._count = len(self.entries()) if self.exists() else 0
        self.directory.mkdir(parents=True, exist_ok=True)
        line = json.dumps(entry, ensure_ascii=False, allow_nan=False, default=str)
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(line + "\n")
        self._count += 1
        return self._count

    def entries(self) -> list[dict[str, Any]]:
        """Every complete entry (a line cut off by a crash is ignored)."""
        if not self.exists():
            return []
        out = []
        for line in self.path.read_text(encoding="utf-8").splitlines():
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                continue
        return out

    def sync_state(self) -> dict[str, Any] | None:
        """Where and how far this journal was uploaded (None: never)."""
        try:
            return json.loads(self.sync_path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            return None

    def save_sync_state(self, uri: str, experiment_id: str | None, run_id: str, synced: int) -> None:
        """Record (atomically) that the first ``synced`` entries reached run ``run_id`` at ``uri``."""
        state = {"uri": uri, "experiment_id": experiment_id, "run_id": run_id, "synced": synced}
        tmp = self.sync_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(state), encoding="utf-8")
        os.replace(tmp, self.sync_path)
