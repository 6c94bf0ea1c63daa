"""A run stopped (or failing) before its tracking record was opened: one line says so, no journal is
left that ``qrt-run sync`` could not upload, and the exit code is a KILLED (or failed) run's."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import HANG_S, run_cli
from qrt_runner.runs.execute import close_failed
from qrt_runner.runs.point import Point
from qrt_runner.tracking import RunTracker

# qrt-run, with the run's name (computed in track(), before the record's start is journaled)
# replaced by a signal to the run itself: the signal lands in the window before tracker.start().
_STOPPED_IN_TRACK = """
import signal, sys, time
import qrt_runner.tracking

def run_name(*args, **kwargs):
    signal.raise_signal(signal.{signal})
    time.sleep(60)  # the handler raises at once; this bounds a run the signal did not stop
    sys.exit("the signal did not stop the run")

qrt_runner.tracking.run_name = run_name
from qrt_runner.cli import main
main()
"""
SMALL = ["experiment=ghz_sampler", "primitive.default_shots=16", "backend.max_parallel_threads=1"]


def _stopped_in_track(cwd: Path, signame: str, args: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", _STOPPED_IN_TRACK.format(signal=signame), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=HANG_S,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


@pytest.mark.slow  # qrt-run in a subprocess
@pytest.mark.parametrize(("signame", "code"), [("SIGINT", 1), ("SIGTERM", 143)])  # a KILLED run's codes
def test_a_run_stopped_before_its_record_opened_says_so_and_leaves_nothing_to_sync(tmp_path, signame, code):
    run = _stopped_in_track(tmp_path, signame, [*SMALL, "hydra.run.dir=out"])
    assert run.returncode == code, run.stdout + run.stderr
    assert "  not tracked: stopped before its record was opened\n" in run.stdout, run.stdout
    assert "qrt-run sync" not in run.stdout + run.stderr
    assert "Traceback" not in run.stderr, run.stderr
    assert json.loads((tmp_path / "out" / "results.json").read_text())["status"] == "KILLED"
    assert not (tmp_path / "out" / "tracking.jsonl").exists()  # no end without a start
    sync = run_cli(["sync", "out"], cwd=tmp_path)
    assert sync.returncode == 2, sync.stderr  # nothing to upload: an invalid input, not an untracked run
    assert "no run record (tracking.jsonl)" in sync.stderr, sync.stderr


@pytest.mark.slow  # qrt-run in a subprocess
def test_a_sweep_point_stopped_before_its_record_opened_is_killed_not_untracked(tmp_path):
    run = _stopped_in_track(tmp_path, "SIGINT", ["-m", *SMALL, "circuit.num_qubits=2,3", "hydra.sweep.dir=sweep"])
    assert run.returncode == 130, run.stdout + run.stderr  # a sweep interrupted
    assert "  not tracked: stopped before its record was opened\n" in run.stdout, run.stdout
    point = json.loads((tmp_path / "sweep" / "0" / "point.json").read_text())
    assert point["status"] == "KILLED" and point["tracked"] and not point["upload"]  # nothing for sync to upload
    assert not (tmp_path / "sweep" / "0" / "tracking.jsonl").exists()
    sync = run_cli(["sync", "sweep"], cwd=tmp_path)  # the parent run only
    assert sync.returncode == 0, sync.stderr
    assert "not synced" not in sync.stderr, sync.stderr


@pytest.mark.parametrize("in_sweep", [False, True])
def test_an_error_before_the_record_opened_closes_nothing(tmp_path, in_sweep):
    """``close_failed`` on a tracker that never started journals no end (sync could not use it);
    a sweep point still records that it failed."""
    from qrt_runner.runs.sweep_context import SweepContext

    sweep = SweepContext(sweep_dir=str(tmp_path)) if in_sweep else None
    point = Point(tmp_path / "0", [], 0 if in_sweep else None, sweep)
    tracker = RunTracker(point.run_dir, None, destination=("sqlite:///mlflow.db", "qrt_runner"))
    close_failed(point, tracker, RuntimeError("broken before start"))
    assert not tracker.journal.exists()
    point_file = point.run_dir / "point.json"
    if in_sweep:
        assert json.loads(point_file.read_text())["status"] == "FAILED"
    else:
        assert not point_file.exists()


def test_a_tracker_says_whether_its_start_was_journaled(tmp_path):
    tracker = RunTracker(Path(tmp_path), None)
    assert not tracker.started
    tracker.start("a run", {})
    assert tracker.started and tracker.journal.entries()[0]["op"] == "start"
