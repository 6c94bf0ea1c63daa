"""``qrt-run``: its own subcommands first, then Hydra composes the config and the runner runs it."""

from __future__ import annotations

from qrt_runner.cli import app

__all__ = ["main"]


def main(argv: list[str] | None = None) -> None:
    """The console entry point: :func:`qrt_runner.cli.app.main`, then a quick exit
    (:func:`~qrt_runner.cli.app.exit_now`)."""
    try:
        app.main(argv)
    except SystemExit as exc:
        app.exit_now(exc.code)
    app.exit_now(0)
