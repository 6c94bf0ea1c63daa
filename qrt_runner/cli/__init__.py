"""``qrt-run``: its own subcommands first, then Hydra composes the config and the runner runs it."""

from qrt_runner.cli.app import main

__all__ = ["main"]
