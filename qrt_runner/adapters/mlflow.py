"""MLflow's SQL schema and an undocumented module of its SQL store.

Checked against mlflow 3.1.0 and 3.17.2 (tests/test_adapters.py passes with both). None of the
schema migrations MLflow 3.17 ships renames or drops the ``tags`` table (``key``, ``value``,
``run_uuid``) read here, and a schema the query does not fit answers "cannot tell" (the callers then
take the public, slower path), so the range stays the one pyproject.toml had (``>=3.1,<4``).

MLflow is not imported by this module (the tags are read with :mod:`sqlite3`).
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

from qrt_runner.adapters.versions import check_versions

if TYPE_CHECKING:
    from collections.abc import Iterable
    from pathlib import Path

__all__ = ["SQL_STORE_MODULE", "SUPPORTED", "check_supported", "sqlite_has_run_tag"]

SUPPORTED = {"mlflow": ">=3.1,<4"}

# MLflow's SQLAlchemy tracking store (sqlite, postgresql, mysql URIs), imported ahead of need by the
# tracking helper process; public: none (MLflow's API reference does not document ``mlflow.store``;
# ``MlflowClient`` imports it when it first opens such a store).
SQL_STORE_MODULE = "mlflow.store.tracking.sqlalchemy_store"

_CHUNK = 500  # values per query (sqlite's default limit is 999 host parameters)


def check_supported() -> None:
    """Raise :class:`~qrt_runner.adapters.versions.UnsupportedVersion` unless the installed MLflow
    is in :data:`SUPPORTED`."""
    check_versions(__name__, SUPPORTED)


def sqlite_has_run_tag(db: Path, key: str, values: Iterable[str]) -> bool | None:
    """Whether some run in MLflow's sqlite database ``db`` has tag ``key`` with one of ``values``,
    read from its ``tags`` table (milliseconds; read-only); None when that cannot be told (no such
    file, not MLflow's schema, a locked or damaged database). Any run counts, in any experiment,
    deleted ones too. Public: ``MlflowClient.search_runs(..., filter_string="tags.`key` IN (...)")``,
    which needs MLflow imported and the store opened (seconds) and searches given experiments."""
    import sqlite3

    wanted = sorted(set(values))
    try:
        if not db.is_file():
            return None
        with contextlib.closing(sqlite3.connect(f"{db.as_uri()}?mode=ro", uri=True, timeout=5)) as connection:
            for start in range(0, len(wanted), _CHUNK):
                chunk = wanted[start : start + _CHUNK]
                marks = ",".join("?" * len(chunk))
                query = f"SELECT 1 FROM tags WHERE key = ? AND value IN ({marks}) LIMIT 1"
                if connection.execute(query, [key, *chunk]).fetchone() is not None:
                    return True
    except (sqlite3.Error, OSError):
        return None
    return False
