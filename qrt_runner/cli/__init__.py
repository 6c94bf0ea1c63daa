"""``qrt-run``: its own subcommands first, then Hydra composes the config and the runner runs it."""

from __future__ import annotations

from qrt_runner.cli import app
from qrt_runner.launch.hydra_run import exit_now

__all__ = ["main"]


def main(argv: list[str] | None = None) -> None:
    """The console entry point: :func:`qrt_runner.cli.app.main`, then a quick exit
    (:func:`~qrt_runner.launch.hydra_run.exit_now`)."""
    try:
        app.main(argv)
    except SystemExit as exc:
        exit_now(exc.code)
    exit_now(0)
