"""``qrt-run sync <dir>...``: upload runs whose tracking store was unavailable when they ran."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import NoReturn

from qrt_runner.runs import outcome

USAGE = """qrt-run sync <run or sweep dir>... [--uri URI] [--experiment NAME] [--timeout S]

Uploads what a tracking store has not seen of each run's record (tracking.jsonl in the run
directory): params, tags, metrics with their steps, artifacts, status, and the parent/child links
of a sweep. By default to the store the run recorded; --uri and --experiment choose another.
A run left RUNNING on a server that died is completed and closed. A sweep directory syncs the
sweep's parent run and every point below it."""


class _OneLineParser(argparse.ArgumentParser):
    """argparse's usage errors as qrt-run's one line (argparse prints the whole usage first)."""

    def error(self, message: str) -> NoReturn:
        print(f"qrt-run: invalid input: qrt-run sync: {message} (qrt-run sync --help says more)", file=sys.stderr)
        raise SystemExit(2)


def sync_command(args: list[str]) -> int:
    """Run ``qrt-run sync``; returns the exit code."""
    from qrt_runner.tracking.sync import find_journals, sync_directory

    parser = _OneLineParser(prog="qrt-run sync", usage=USAGE, add_help=True)
    parser.add_argument("paths", nargs="+", type=Path)
    parser.add_argument("--uri", default=None)
    parser.add_argument("--experiment", default=None)
    parser.add_argument("--timeout", type=float, default=10.0)
    try:
        options = parser.parse_args(args)
    except SystemExit as exc:  # --help (0) or a usage error (2)
        return outcome.EXIT_INVALID if exc.code else outcome.EXIT_OK
    directories = []
    for path in options.paths:
        found = find_journals(path)
        if not found:
            print(
                f"qrt-run: invalid input: {path}: no run record (tracking.jsonl) at or below it; give a run or sweep directory",
                file=sys.stderr,
            )
            return outcome.EXIT_INVALID
        directories.extend(found)
    code = outcome.EXIT_OK
    done: dict = {}
    for directory in dict.fromkeys(directories):
        result = sync_directory(directory, options.uri, options.experiment, options.timeout, done)
        if result.error is not None:
            print(f"qrt-run: {directory}: not synced: {result.error}", file=sys.stderr)
            code = outcome.EXIT_UNTRACKED
            continue
        print(f"{directory}: run {result.run_id} {result.status} ({result.uploaded} record entries uploaded)")
    return code
