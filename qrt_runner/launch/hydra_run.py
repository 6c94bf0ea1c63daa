"""Hydra's run of ``qrt-run <overrides>``: compose, run or sweep, and the exit code; and the
quick exit after it.

The command line (:mod:`qrt_runner.cli`) and ``qrt-run replay`` both start runs through
:func:`run_hydra`. Exit codes (the README's table is the contract): 0 every run finished and was
tracked; 1 a run ended FAILED or KILLED (a sweep that could not start on its launcher: its parent run
FAILED); 2 invalid config or input, nothing ran; 3 every run
finished but some were not tracked; 130 interrupted outside a job; 128 + signal (143, 129)
terminated by SIGTERM or SIGHUP.
"""

from __future__ import annotations

import os
import signal
import sys
from typing import NoReturn

from qrt_runner import interrupts
from qrt_runner.runs import outcome

__all__ = ["exit_now", "run_hydra"]


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
    import threading

    from qrt_runner import background
    from qrt_runner.adapters.python import run_exit_functions
    from qrt_runner.sweep.workers import stop_local_workers

    if threading.current_thread() is not threading.main_thread() or any(m in sys.modules for m in _POOL_MODULES):
        sys.exit(code)
    if isinstance(code, str):
        print(code, file=sys.stderr)
    status = code if isinstance(code, int) else (0 if code is None else 1)
    background.drain()
    stop_local_workers()
    run_exit_functions()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)


def run_hydra(args: list[str]) -> int:
    """Compose with Hydra and run (or sweep); returns the exit code."""
    os.environ["HYDRA_FULL_ERROR"] = "1"
    if os.getcwd() not in sys.path:  # circuit=factory imports the user's own modules from here
        sys.path.insert(0, os.getcwd())
    from qrt_runner.runs.warm import cancel_device_warm_up, start_tracking_helper

    start_tracking_helper(args)  # MLflow's imports overlap Hydra's composition and the checks
    from qrt_runner.sweep.workers import start_forkserver, wants_warm_workers

    if wants_warm_workers(args):
        start_forkserver()
    import hydra
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    from qrt_runner.config.compose import config_dir, register_configs
    from qrt_runner.errors import ConfigError
    from qrt_runner.runs.errors import invalid_config_text
    from qrt_runner.runs.task import run_task
    from qrt_runner.sweep.lifecycle import SweepNotStarted, SweepRefused, close_open_sweeps

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
    except SweepNotStarted as failed:  # no point ran; the parent run is FAILED
        print(f"qrt-run: sweep not started: {failed}", file=sys.stderr)
        code = outcome.EXIT_FAILED
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
