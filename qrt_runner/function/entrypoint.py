"""What a packed function does where the gateway starts it.

The folder's ``entrypoint.py`` (:data:`ENTRYPOINT_SCRIPT`) reads its arguments with
qiskit-serverless's ``get_arguments()`` and hands them to :func:`run_function`, which runs the
packed experiment (each point, when the arguments give several: fanned out with Ray where Ray is
present) as ``qrt-run`` would here, tracking off, reporting its stages with ``update_status()``;
what it returns goes back with ``save_result()``: per run, what ``results.json`` and
``config.yaml`` hold.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from qrt_runner.function.errors import FunctionInputError
from qrt_runner.function.fanout import FAN_OUT_CHOICES, fans_out, map_points
from qrt_runner.function.folder import load_folder

__all__ = ["ENTRYPOINT_FILE", "ENTRYPOINT_SCRIPT", "STAGES", "check_overrides", "main", "run_function", "run_point"]

ENTRYPOINT_FILE = "entrypoint.py"
ENTRYPOINT_SCRIPT = '''\
"""A qrt_runner experiment as a Qiskit Function (written by qrt-run function pack)."""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)  # qrt_runner travels in this folder

from qiskit_serverless import get_arguments, save_result, update_status  # noqa: E402

from qrt_runner.function.entrypoint import main  # noqa: E402

sys.exit(main(get_arguments(), update_status, save_result, HERE))
'''

#: The gateway's running sub-statuses each stage reports (update_status takes only these).
STAGES = {"check": "MAPPING", "run": "EXECUTING_QPU", "collect": "POST_PROCESSING"}
#: Aer's threads (0: all cores), set to 1 for points fanned out as Ray tasks (one CPU each).
THREADS_KEY = "backend.max_parallel_threads"


def main(arguments: dict, update_status: Callable[[str], Any], save_result: Callable[[dict], Any], folder: str) -> int:
    """The entrypoint's body: run, save the result; bad arguments end the job with one line (exit 2)."""
    try:
        result = run_function(arguments, update_status, folder)
    except FunctionInputError as exc:
        print(f"qrt-run function: invalid input: {exc}", file=sys.stderr, flush=True)
        return 2
    if save_result(result) is False:
        print("qrt-run function: the result could not be saved (see the log above)", file=sys.stderr, flush=True)
        return 1
    return 0


def run_function(arguments: dict, update_status: Callable[[str], Any], folder: str | Path) -> dict:
    """Run the packed experiment with ``arguments`` (``overrides``, ``points``, ``fan_out``).

    Every point is checked before any runs (raises FunctionInputError, naming the point). Returns
    ``{"function", "qrt_runner", "tracking", "runs": [{"overrides", "exit_code", "results",
    "config", "error", "worker"}, ...]}``, one run per point in order.
    """
    from qrt_runner import __version__

    packed = load_folder(folder)
    extra, points, fan_out = _parse(arguments)
    runs = [[*packed.overrides, *extra, *point] for point in points]
    update_status(STAGES["check"])
    configs = [check_overrides(overrides) for overrides in runs]
    if fans_out(len(runs), fan_out):  # one CPU per Ray task: Aer's "all cores" becomes one thread
        runs = [
            [*overrides, f"{THREADS_KEY}=1"] if cfg.backend.get("max_parallel_threads") == 0 else overrides
            for overrides, cfg in zip(runs, configs, strict=True)
        ]
    update_status(STAGES["run"])
    work = Path(tempfile.mkdtemp(prefix="qrt-function-"))
    try:
        results = map_points(
            run_point, [(overrides, str(work / f"run-{i}")) for i, overrides in enumerate(runs)], fan_out
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    update_status(STAGES["collect"])
    return {"function": packed.title, "qrt_runner": __version__, "tracking": packed.tracking, "runs": results}


def run_point(overrides: list[str], run_dir: str) -> dict:
    """One run, as ``qrt-run <overrides>`` with tracking off, in ``run_dir``; its record as a dict."""
    import yaml

    from qrt_runner.launch.hydra_run import run_hydra
    from qrt_runner.runs import outcome

    messages = len(outcome.current().failed)
    code = run_hydra([*overrides, "tracking.enabled=false", f"hydra.run.dir={run_dir}"])
    folder = Path(run_dir)
    results = folder / "results.json"
    config = folder / "config.yaml"
    record = {
        "overrides": list(overrides),
        "exit_code": code,
        "results": json.loads(results.read_text()) if results.is_file() else None,
        "config": yaml.safe_load(config.read_text()) if config.is_file() else None,
        "error": "; ".join(outcome.current().failed[messages:]) or None,
        "worker": {"host": socket.gethostname(), "pid": os.getpid()},  # where it ran (a Ray worker, or here)
    }
    shutil.rmtree(folder, ignore_errors=True)  # what the job returns is the record
    return record


def check_overrides(overrides: list[str]):
    """The checks ``qrt-run`` makes before anything runs; the composed config (raises
    FunctionInputError in one line)."""
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    from qrt_runner.config.compose import compose_config
    from qrt_runner.errors import ConfigError
    from qrt_runner.runs.check import check
    from qrt_runner.runs.errors import invalid_config_text

    try:
        cfg = compose_config(overrides)
        check(cfg)
    except (ConfigError, HydraException, OmegaConfBaseException) as exc:
        raise FunctionInputError(f"{' '.join(overrides)}: {invalid_config_text(exc)}") from None
    return cfg


def _parse(arguments: Any) -> tuple[list[str], list[list[str]], str]:
    """The overrides, points and fan-out of a job's arguments (raises FunctionInputError)."""
    if not isinstance(arguments, dict):
        raise FunctionInputError(f"the arguments are {type(arguments).__name__}, not a mapping")
    unknown = sorted(set(arguments) - {"overrides", "points", "fan_out"})
    if unknown:
        raise FunctionInputError(f"unknown argument(s) {', '.join(unknown)}; give overrides, points or fan_out")
    overrides = arguments.get("overrides") or []
    points = arguments.get("points") or [[]]
    fan_out = arguments.get("fan_out") or "auto"
    if not _strings(overrides):
        raise FunctionInputError(f"overrides={overrides!r}: give a list of strings such as ['seed=3']")
    if not isinstance(points, list) or not all(_strings(point) for point in points):
        raise FunctionInputError(f"points={points!r}: give a list of override lists such as [['seed=1'], ['seed=2']]")
    if fan_out not in FAN_OUT_CHOICES:
        raise FunctionInputError(f"fan_out={fan_out!r}: choose one of {', '.join(FAN_OUT_CHOICES)}")
    return list(overrides), [list(point) for point in points], fan_out


def _strings(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)
