"""The ``qrt-run`` entry point: subcommands, help, then Hydra; the exit code.

``qrt-run <overrides>`` runs (``-m`` sweeps); ``qrt-run sync ...`` and the other subcommands
are handled before Hydra parses anything. Exit codes (the README's table is the contract):
0 every run finished and was tracked; 1 a run ended FAILED or KILLED; 2 invalid config or
input, nothing ran; 3 every run finished but some were not tracked (``qrt-run sync`` uploads
them); 130 interrupted outside a job; 128 + signal (143, 129) terminated by SIGTERM or SIGHUP.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

from qrt_runner.execution.plugins import use_qiskit_plugins_only
from qrt_runner.launch.hydra_run import run_hydra
from qrt_runner.runs import outcome

__all__ = ["main"]


def _subcommands() -> dict[str, Callable[[list[str]], int]]:
    from qrt_runner.cli.estimate import estimate_command
    from qrt_runner.cli.function import function_command
    from qrt_runner.cli.replay import diff_command, replay_command
    from qrt_runner.cli.schema import schema_command
    from qrt_runner.cli.sync import sync_command

    return {
        "sync": sync_command,
        "replay": replay_command,
        "diff": diff_command,
        "estimate": estimate_command,
        "schema": schema_command,
        "function": function_command,
    }


SUBCOMMAND_NAMES = ("sync", "replay", "diff", "estimate", "schema", "function")
_CONFIG_FLAGS = ("--config-dir", "-cd", "--config-name", "-cn", "--config-path", "-cp")


def main(argv: list[str] | None = None) -> None:
    """Console entry point of ``qrt-run``."""
    args = sys.argv[1:] if argv is None else list(argv)
    use_qiskit_plugins_only()
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


def _null_group(args: list[str]) -> str | None:
    """``group=null`` (which Hydra answers with a traceback) as one line, before Hydra starts."""
    from importlib.resources import files

    groups = {p.name for p in Path(str(files("qrt_runner.conf"))).iterdir() if p.is_dir()} | {"experiment"}
    for arg in args:
        key, _, value = arg.partition("=")
        if key.lstrip("+~") in groups and value.strip() in ("null", "~"):
            return f"{arg}: a config group needs an option; choose one (qrt-run --help lists them)"
    return None
