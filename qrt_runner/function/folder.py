"""A packed function folder: ``function.json`` (QiskitFunction's fields and what qrt_runner adds).

Layout written by :func:`qrt_runner.function.pack.pack_function`::

    DIR/function.json   title, entrypoint, dependencies, description, version, arguments_schema
                        (QiskitFunction's fields) and "qrt_runner": the packed overrides, the
                        tracking the client records the job's result with, the pack's versions
    DIR/entrypoint.py   what the gateway runs: get_arguments() -> the experiment -> save_result()
    DIR/config.yaml     the resolved config of the packed overrides (what a local run records)
    DIR/qrt_runner/     qrt_runner itself, with its config tree (the gateway need not install it)
    DIR/qrt_runner-<version>.dist-info/   its name and version, which runs record
    DIR/experiments/    the user's own experiment overlay, when the packed one is not shipped
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qrt_runner.function.errors import FunctionInputError

__all__ = ["FUNCTION_FILE", "FunctionFolder", "load_folder"]

FUNCTION_FILE = "function.json"
#: The fields of qiskit_serverless.QiskitFunction that function.json holds.
FUNCTION_FIELDS = ("title", "entrypoint", "dependencies", "description", "version", "arguments_schema")


@dataclass
class FunctionFolder:
    """What ``function.json`` says: QiskitFunction's fields and the packed experiment."""

    path: Path
    title: str
    entrypoint: str
    dependencies: list[str]
    description: str | None = None
    version: str | None = None
    arguments_schema: dict[str, Any] | None = None
    overrides: list[str] = field(default_factory=list)
    tracking: dict[str, Any] = field(default_factory=dict)

    def function_fields(self) -> dict[str, Any]:
        """The keyword arguments of ``QiskitFunction`` (``working_dir`` included)."""
        fields = {name: getattr(self, name) for name in FUNCTION_FIELDS}
        return {**fields, "working_dir": str(self.path)}


def load_folder(path: str | Path) -> FunctionFolder:
    """Read a packed folder (raises FunctionInputError, in one line, when it is not one)."""
    folder = Path(path)
    file = folder / FUNCTION_FILE
    if not folder.is_dir():
        raise FunctionInputError(
            f"{path}: no such folder; pack one with qrt-run function pack <overrides> --out {path}"
        )
    if not file.is_file():
        raise FunctionInputError(
            f"{path}: not a function folder (no {FUNCTION_FILE}); pack one with qrt-run function pack"
        )
    try:
        data = json.loads(file.read_text())
        packed = data.get("qrt_runner") or {}
        return FunctionFolder(
            folder,
            str(data["title"]),
            str(data["entrypoint"]),
            [str(item) for item in data.get("dependencies") or []],
            data.get("description"),
            data.get("version"),
            data.get("arguments_schema"),
            [str(item) for item in packed.get("overrides") or []],
            dict(packed.get("tracking") or {}),
        )
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise FunctionInputError(
            f"{file}: not a valid {FUNCTION_FILE} ({type(exc).__name__}: {exc}); pack it again"
        ) from exc
