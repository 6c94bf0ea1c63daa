"""``qrt-run function pack|upload|run|status|logs|result``: an experiment as a Qiskit Function."""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path

from qrt_runner.runs import outcome

__all__ = ["function_command"]

USAGE = """qrt-run function <command> ...      an experiment as a Qiskit Function (Qiskit Serverless)

commands:
  pack [overrides...] --out DIR [--title NAME]   write a function folder for the config (no gateway needed)
  upload DIR                                     upload a packed folder to the gateway
  run <title | DIR> [overrides...] [-m] [--fan-out auto|ray|serial]
                                                 start a job; prints its id
  status JOB                                     the job's status (QUEUED, RUNNING: EXECUTING_QPU, DONE, ERROR...)
  logs JOB                                       the job's logs
  result JOB [--out DIR] [--no-wait] [tracking.KEY=VALUE...]
                                                 the job's runs into run directories and MLflow, like local runs

The gateway: QRT_SERVERLESS_HOST, QRT_SERVERLESS_TOKEN (never printed), QRT_SERVERLESS_INSTANCE
(an IBM Cloud CRN), QRT_SERVERLESS_CHANNEL; the client needs pip install 'qrt_runner[serverless]'.
qrt-run function <command> --help says more. Exit codes: 0 ok, 1 the job or a run failed, 2 bad
input (no token, unknown job or function, missing folder...), 3 finished but not tracked (qrt-run sync)."""

PACK_USAGE = """qrt-run function pack [overrides...] --out DIR [--title NAME]

Checks the config the overrides compose (as qrt-run <overrides> would, nothing runs) and writes
DIR: function.json (QiskitFunction's title, entrypoint, dependencies, arguments_schema, and the
packed overrides), entrypoint.py (what the gateway runs), config.yaml (the resolved config) and a
copy of qrt_runner with its config tree. The dependencies are pinned with == (the versions here,
qiskit-ibm-runtime inside qiskit-serverless 0.37's pin). --title defaults to qrt-<experiment>.
A config that reads files (a circuit file, a factory module, a layer noise model) is refused: the
folder carries none. A DIR holding an earlier function folder is replaced.
Exit codes: 0 packed, 2 invalid config or input."""

UPLOAD_USAGE = """qrt-run function upload DIR

Uploads the function folder DIR (qrt-run function pack) to the gateway as QiskitFunction(title,
entrypoint, working_dir=DIR, dependencies). Exit codes: 0 uploaded, 2 bad input or refused."""

RUN_USAGE = """qrt-run function run <title | DIR> [overrides...] [-m] [--fan-out auto|ray|serial]

Starts a job of the uploaded function (by title, or by its packed folder) and prints the job's
id. The overrides are added to the packed ones, as on the command line of qrt-run. With -m, sweep
overrides (key=a,b, range(...)) become the job's points, every combination, run inside the job
as Ray tasks where the gateway has Ray (--fan-out auto), or one by one (serial).
Given the packed folder DIR, every point's config is checked here first, as qrt-run checks it
(nothing starts when one is invalid); given a title, the job checks them before any point runs,
and a job with an invalid one ends ERROR (qrt-run function result JOB then exits 1).
Exit codes: 0 started, 2 bad input (unknown function, a sweep -m cannot list, invalid overrides
with DIR)."""

STATUS_USAGE = """qrt-run function status JOB

Prints the job's status: QUEUED, INITIALIZING, RUNNING (RUNNING: MAPPING, EXECUTING_QPU,
POST_PROCESSING as the function reports its stages), DONE, ERROR or CANCELED. Exit codes: 0, 2 unknown job."""

LOGS_USAGE = """qrt-run function logs JOB

Prints the job's logs (what qrt-run printed inside the function). Exit codes: 0, 2 unknown job."""

RESULT_USAGE = """qrt-run function result JOB [--out DIR] [--no-wait] [tracking.KEY=VALUE...]

Waits for the job to end (polling every 2 s; --no-wait: refuse a job still running), then writes
each of its runs as a run directory DIR/JOB/run (DIR/JOB/point-N for -m) with results.json and
config.yaml, and records it in MLflow with the same params, tags, metrics and artifacts as a local
run, tagged serverless.job_id and serverless.function. Tracking is the packed config's
(tracking.uri, tracking.experiment_name); tracking.KEY=VALUE changes it here, tracking.enabled=false
records nothing. DIR defaults to function_runs.
Exit codes: 0 every run finished and was tracked, 1 the job ended ERROR or CANCELED or a run
FAILED, 2 bad input (unknown job, a job still running with --no-wait, a job recorded already in
DIR/JOB), 3 not tracked (qrt-run sync DIR/JOB)."""

_USAGES = {
    "pack": PACK_USAGE,
    "upload": UPLOAD_USAGE,
    "run": RUN_USAGE,
    "status": STATUS_USAGE,
    "logs": LOGS_USAGE,
    "result": RESULT_USAGE,
}


def function_command(args: list[str]) -> int:
    """Run ``qrt-run function ...``; returns the exit code."""
    from qrt_runner.errors import ConfigError
    from qrt_runner.function.errors import FunctionInputError

    if not args or args[0] in ("-h", "--help"):
        print(USAGE)
        return outcome.EXIT_OK
    command, rest = args[0], args[1:]
    if command not in _USAGES:
        return _invalid(f"unknown command {command!r}; choose one of {', '.join(_USAGES)} (qrt-run function --help)")
    if "-h" in rest or "--help" in rest:
        print(_USAGES[command])
        return outcome.EXIT_OK
    handler = {"pack": _pack, "upload": _upload, "run": _run, "status": _status, "logs": _logs, "result": _result}
    try:
        return handler[command](rest)
    except FunctionInputError as exc:
        return _invalid(str(exc))
    except ConfigError as exc:
        print(f"qrt-run: invalid config: {exc}", file=sys.stderr)
        return outcome.EXIT_INVALID
    except KeyboardInterrupt:
        print("qrt-run: interrupted", file=sys.stderr)
        return outcome.EXIT_INTERRUPTED


def _invalid(message: str) -> int:
    print(f"qrt-run: invalid input: {message}", file=sys.stderr)
    return outcome.EXIT_INVALID


def _option(args: list[str], name: str, command: str) -> tuple[str | None, list[str]]:
    """The value of ``--name VALUE`` (or ``--name=VALUE``) and the other arguments."""
    from qrt_runner.function.errors import FunctionInputError

    value, rest, index = None, [], 0
    while index < len(args):
        arg = args[index]
        if arg == name:
            if index + 1 >= len(args) or args[index + 1].startswith("-"):
                raise FunctionInputError(f"{name} needs a value (qrt-run function {command} --help)")
            value, index = args[index + 1], index + 2
            continue
        if arg.startswith(name + "="):
            value = arg.partition("=")[2]
        else:
            rest.append(arg)
        index += 1
    return value, rest


def _one(args: list[str], what: str, command: str) -> str:
    from qrt_runner.function.errors import FunctionInputError

    if len(args) != 1 or args[0].startswith("-"):
        got = " ".join(args) or "nothing"
        raise FunctionInputError(f"qrt-run function {command} takes one {what}, got {got} (--help says more)")
    return args[0]


def _pack(args: list[str]) -> int:
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    from qrt_runner.function.errors import FunctionInputError
    from qrt_runner.function.pack import pack_function
    from qrt_runner.runs.errors import invalid_config_text

    out, args = _option(args, "--out", "pack")
    title, overrides = _option(args, "--title", "pack")
    if out is None:
        raise FunctionInputError("qrt-run function pack needs --out DIR, the folder to write (--help says more)")
    flags = [arg for arg in overrides if arg.startswith("--")]
    if flags:
        raise FunctionInputError(f"unknown option {flags[0]} (qrt-run function pack --help)")
    try:
        folder = pack_function(overrides, Path(out), title)
    except (HydraException, OmegaConfBaseException) as exc:
        print(f"qrt-run: invalid config: {invalid_config_text(exc)}", file=sys.stderr)
        return outcome.EXIT_INVALID
    print(
        f"qrt-run function: packed {folder.title} into {folder.path} ({len(folder.dependencies)} dependencies); "
        f"upload it with: qrt-run function upload {folder.path}"
    )
    return outcome.EXIT_OK


def _upload(args: list[str]) -> int:
    from qrt_runner.function.client import connect
    from qrt_runner.function.folder import load_folder

    folder = load_folder(_one(args, "function folder", "upload"))
    gateway = connect()
    title = gateway.upload(folder)
    print(f"qrt-run function: uploaded {title} to {gateway.settings.host}; run it with: qrt-run function run {title}")
    return outcome.EXIT_OK


def _run(args: list[str]) -> int:
    from qrt_runner.function.client import connect
    from qrt_runner.function.entrypoint import check_overrides
    from qrt_runner.function.errors import FunctionInputError
    from qrt_runner.function.fanout import FAN_OUT_CHOICES
    from qrt_runner.function.folder import load_folder
    from qrt_runner.function.points import expand_points

    fan_out, args = _option(args, "--fan-out", "run")
    sweep = "-m" in args or "--multirun" in args
    args = [arg for arg in args if arg not in ("-m", "--multirun")]
    if not args or args[0].startswith("-"):
        raise FunctionInputError("qrt-run function run needs the function's title or packed folder (--help says more)")
    target, overrides = args[0], args[1:]
    flags = [arg for arg in overrides if arg.startswith("--")]
    if flags:
        raise FunctionInputError(f"unknown option {flags[0]} (qrt-run function run --help)")
    if fan_out is not None and fan_out not in FAN_OUT_CHOICES:
        raise FunctionInputError(f"--fan-out {fan_out}: choose one of {', '.join(FAN_OUT_CHOICES)}")
    folder = load_folder(target) if Path(target).is_dir() else None
    arguments: dict = {"points": expand_points(overrides)} if sweep else {"overrides": overrides}
    if folder is not None:  # the packed folder is here: check every point before the job starts
        with contextlib.chdir(folder.path):  # as the gateway runs it (its experiments/, its paths)
            for point in arguments.get("points") or [overrides]:
                check_overrides([*folder.overrides, *point])
    if fan_out is not None:
        arguments["fan_out"] = fan_out
    print(connect().run(folder.title if folder is not None else target, arguments))
    return outcome.EXIT_OK


def _status(args: list[str]) -> int:
    from qrt_runner.function.client import connect

    job_id = _one(args, "job id", "status")
    print(connect().status(job_id))
    return outcome.EXIT_OK


def _logs(args: list[str]) -> int:
    from qrt_runner.function.client import connect

    job_id = _one(args, "job id", "logs")
    print(connect().logs(job_id))
    return outcome.EXIT_OK


def _result(args: list[str]) -> int:
    from qrt_runner.function.client import TERMINAL, connect
    from qrt_runner.function.errors import FunctionInputError
    from qrt_runner.function.record import record_job

    out, args = _option(args, "--out", "result")
    no_wait = "--no-wait" in args
    args = [arg for arg in args if arg != "--no-wait"]
    tracking_args = [arg for arg in args if arg.startswith("tracking.")]
    job_id = _one([arg for arg in args if not arg.startswith("tracking.")], "job id", "result")
    overrides = _tracking_overrides(tracking_args)
    recorded = Path(out or "function_runs") / job_id
    if recorded.exists():  # a second record of the same runs would be a second MLflow run
        raise FunctionInputError(
            f"job {job_id} is recorded already in {recorded}; qrt-run sync {recorded} uploads what was not tracked"
        )
    gateway = connect()
    status = gateway.status(job_id) if no_wait else gateway.wait(job_id)
    if status not in TERMINAL:
        raise FunctionInputError(f"job {job_id} is {status}; wait for it: qrt-run function result {job_id}")
    if status != "DONE":
        print(f"qrt-run: function job {job_id} ended {status}: {gateway.error(job_id)}", file=sys.stderr)
        return outcome.EXIT_FAILED
    data = gateway.result(job_id)
    tracking = {**(data.get("tracking") or {}), **overrides}
    runs = record_job(data, job_id, Path(out or "function_runs"), tracking)
    failed = [run for run in runs if run.status != "FINISHED"]
    untracked = [run for run in runs if run.untracked]
    for run in failed:
        print(f"qrt-run: {run.run_dir}: {run.status}: {run.error}", file=sys.stderr)
    for run in untracked:
        print(
            f"qrt-run: {run.run_dir} not tracked: {run.untracked}; upload with: qrt-run sync {run.run_dir}",
            file=sys.stderr,
        )
    if failed:
        return outcome.EXIT_FAILED
    return outcome.EXIT_UNTRACKED if untracked else outcome.EXIT_OK


def _tracking_overrides(args: list[str]) -> dict:
    """``tracking.KEY=VALUE`` arguments of ``result`` (enabled, uri, experiment_name, run_name, timeout_s)."""
    from qrt_runner.function.errors import FunctionInputError

    allowed = ("enabled", "uri", "experiment_name", "run_name", "timeout_s")
    values: dict = {}
    for arg in args:
        key, _, value = arg.partition("=")
        name = key.removeprefix("tracking.")
        if name not in allowed or not value:
            raise FunctionInputError(f"{arg}: give tracking.KEY=VALUE with KEY one of {', '.join(allowed)}")
        if name == "enabled":
            if value.lower() not in ("true", "false"):
                raise FunctionInputError(f"{arg}: give true or false")
            values[name] = value.lower() == "true"
        elif name == "timeout_s":
            try:
                values[name] = float(value)
            except ValueError:
                raise FunctionInputError(f"{arg}: give a number of seconds") from None
        else:
            values[name] = value
    return values
