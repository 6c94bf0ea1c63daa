"""The ``qrt-run`` entry point: subcommands, help, then Hydra; the exit code.

``qrt-run <overrides>`` runs (``-m`` sweeps); ``qrt-run sync ...`` and the other subcommands
are handled before Hydra parses anything. Exit codes (the README's table is the contract):
0 every run finished and was tracked; 1 a run ended FAILED or KILLED; 2 invalid config or
input, nothing ran; 3 every run finished but some were not tracked (``qrt-run sync`` uploads
them); 130 interrupted outside a job; 128 + signal (143, 129) terminated by SIGTERM or SIGHUP.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

from qrt_runner import interrupts
from qrt_runner.cli import outcome

__all__ = ["main"]


def _subcommands() -> dict[str, Callable[[list[str]], int]]:
    from qrt_runner.cli.estimate import estimate_command
    from qrt_runner.cli.replay import diff_command, replay_command
    from qrt_runner.cli.sync import sync_command

    return {"sync": sync_command, "replay": replay_command, "diff": diff_command, "estimate": estimate_command}


SUBCOMMAND_NAMES = ("sync", "replay", "diff", "estimate")
_CONFIG_FLAGS = ("--config-dir", "-cd", "--config-name", "-cn", "--config-path", "-cp")


def main(argv: list[str] | None = None) -> None:
    """Console entry point of ``qrt-run``."""
    args = sys.argv[1:] if argv is None else list(argv)
    if args and args[0] in SUBCOMMAND_NAMES:
        sys.exit(_subcommands()[args[0]](args[1:]))
    if any(arg.partition("=")[0] in _CONFIG_FLAGS for arg in args):
        print(
            "qrt-run: invalid input: --config-dir/--config-name do not re-run a recorded run (Hydra would compose "
            "the packaged defaults); use qrt-run replay <run dir | run id>",
            file=sys.stderr,
        )
        sys.exit(outcome.EXIT_INVALID)
    refused = _null_group(args)
    if refused:
        print(f"qrt-run: invalid config: {refused}", file=sys.stderr)
        sys.exit(outcome.EXIT_INVALID)
    if "--help" in args or "-h" in args:
        from qrt_runner.cli.help import help_text

        print(help_text())
        sys.exit(0)
    sys.exit(run_hydra(args))


# Launchers whose worker processes shut down through Python's own exit hooks: with any of them
# loaded, qrt-run exits the ordinary way (joblib's workers are stopped by exit_now itself).
_POOL_MODULES = ("ray", "submitit")


def exit_now(code: int | str | None) -> NoReturn:
    """Exit with ``code`` as ``sys.exit`` would, without tearing down every loaded module (about
    a second once MLflow, qiskit and matplotlib are loaded, on every run).

    What exit does that matters is done first: the background records are drained, joblib's idle
    workers and the forkserver they were forked from stopped, the ``atexit`` hooks run (the
    simulator process, logging), and stdout and stderr flushed. Threads left are idle by then
    (thread pools' workers waiting for work: joining them would wait forever, since Python stops
    them only during its own exit). With Ray's or submitit's module loaded, or outside the main
    thread, it is ``sys.exit``.
    """
    import atexit
    import threading

    from qrt_runner import background
    from qrt_runner.sweep.workers import stop_local_workers

    if threading.current_thread() is not threading.main_thread() or any(m in sys.modules for m in _POOL_MODULES):
        sys.exit(code)
    if isinstance(code, str):
        print(code, file=sys.stderr)
    status = code if isinstance(code, int) else (0 if code is None else 1)
    background.drain()
    stop_local_workers()
    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)


def _null_group(args: list[str]) -> str | None:
    """``group=null`` (which Hydra answers with a traceback) as one line, before Hydra starts."""
    from importlib.resources import files

    groups = {p.name for p in Path(str(files("qrt_runner.conf"))).iterdir() if p.is_dir()} | {"experiment"}
    for arg in args:
        key, _, value = arg.partition("=")
        if key.lstrip("+~") in groups and value.strip() in ("null", "~"):
            return f"{arg}: a config group needs an option; choose one (qrt-run --help lists them)"
    return None


def run_hydra(args: list[str]) -> int:
    """Compose with Hydra and run (or sweep); returns the exit code."""
    os.environ["HYDRA_FULL_ERROR"] = "1"
    if os.getcwd() not in sys.path:  # circuit=factory imports the user's own modules from here
        sys.path.insert(0, os.getcwd())
    from qrt_runner.cli.warm import cancel_device_warm_up, start_tracking_helper

    start_tracking_helper(args)  # MLflow's imports overlap Hydra's composition and the checks
    from qrt_runner.sweep.workers import start_forkserver, wants_warm_workers

    if wants_warm_workers(args):
        start_forkserver()
    import hydra
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    from qrt_runner.cli.errors import invalid_config_text
    from qrt_runner.cli.task import run_task
    from qrt_runner.config.compose import config_dir, register_configs
    from qrt_runner.errors import ConfigError
    from qrt_runner.sweep.lifecycle import SweepRefused, close_open_sweeps

    register_configs()
    interrupts.install()
    entry = hydra.main(version_base=None, config_path=config_dir(), config_name="config")(run_task)
    code = 0
    saved_argv = sys.argv
    sys.argv = [saved_argv[0], *args]
    try:
        entry()
    except (ConfigError, HydraException, OmegaConfBaseException) as exc:
        print(f"qrt-run: invalid config: {invalid_config_text(exc)}", file=sys.stderr)
        code = outcome.EXIT_INVALID
    except SweepRefused as refused:
        print(f"qrt-run: invalid config: {invalid_config_text(refused.error)}", file=sys.stderr)
        code = outcome.EXIT_INVALID
    except OSError as exc:  # a read-only or full working directory, most often
        place = exc.filename or "the run directory"
        print(
            f"qrt-run: invalid config: hydra.run.dir: cannot write {place} ({exc.strerror or type(exc).__name__}); run "
            "from a writable folder, or set hydra.run.dir=<a writable folder> (hydra.sweep.dir for -m)",
            file=sys.stderr,
        )
        code = outcome.EXIT_INVALID
    except KeyboardInterrupt:
        code = outcome.EXIT_INTERRUPTED
    finally:
        sys.argv = saved_argv
        cancel_device_warm_up()
        close_open_sweeps("KILLED")
    result = outcome.current()
    signum = interrupts.received()
    if signum or code == outcome.EXIT_INTERRUPTED:
        what = f"terminated by {signal.Signals(signum).name}" if signum else "interrupted"
        kept = (
            f": what finished is kept in {', '.join(result.run_dirs)}" if result.run_dirs else "; nothing had finished"
        )
        print(f"qrt-run: {what}{kept}", file=sys.stderr)
        return 128 + signum if signum else outcome.EXIT_INTERRUPTED
    for line in result.messages():
        print(line, file=sys.stderr)
    return code or result.exit_code()
