"""The Hydra callback that brackets every sweep (``hydra.callbacks.qrt_sweep`` in ``config.yaml``).

Hydra calls it in the launching process, before the sweeper starts and after it returns,
whatever the launcher. It holds no state itself (Hydra may pickle it to the points' processes).
"""

from __future__ import annotations

from typing import Any

from hydra.experimental.callback import Callback


class SweepCallback(Callback):
    """Opens the sweep's record before any point runs and closes it after the last."""

    def on_multirun_start(self, config: Any, **kwargs: Any) -> None:
        from qrt_runner.sweep.lifecycle import open_sweep

        open_sweep(config)

    def on_multirun_end(self, config: Any, **kwargs: Any) -> None:
        from qrt_runner.sweep.lifecycle import close_sweep

        close_sweep(config)
