"""Where one run of ``qrt-run`` stands: its directory, overrides and, in a sweep, the sweep's context.

Hydra's own state (``HydraConfig``) is read here once, so the rest of the run gets plain values.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qrt_runner.runs.sweep_context import SweepContext

POINT_FILE = "point.json"


@dataclass(frozen=True)
class Point:
    """One run: standalone (``qrt-run ...``) or one point of a sweep (``qrt-run -m ...``)."""

    run_dir: Path
    overrides: list[str]
    job_num: int | None
    sweep: SweepContext | None

    @classmethod
    def from_hydra(cls) -> Point:
        from hydra.core.hydra_config import HydraConfig
        from hydra.types import RunMode

        hydra_cfg = HydraConfig.get()
        multirun = hydra_cfg.mode == RunMode.MULTIRUN
        sweep = SweepContext.from_env() if multirun else None
        if multirun and sweep is None:  # a launcher that did not pass the context on
            sweep = SweepContext(sweep_dir=str(Path(hydra_cfg.sweep.dir).resolve()))
        job_num = int(hydra_cfg.job.num) if multirun else None
        return cls(Path(hydra_cfg.runtime.output_dir), list(hydra_cfg.overrides.task), job_num, sweep)

    @property
    def in_sweep(self) -> bool:
        return self.sweep is not None

    def write_point_file(self, record: dict[str, Any]) -> None:
        """``point.json``: this point's outcome, read by the sweep's summary."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        tmp = self.run_dir / (POINT_FILE + ".tmp")
        tmp.write_text(json.dumps({"job": self.job_num, "overrides": self.overrides, **record}, indent=2, default=str))
        os.replace(tmp, self.run_dir / POINT_FILE)

    def discard(self, reason: str) -> None:
        """An invalid config: leave nothing behind (a sweep point keeps only its ``point.json``)."""
        if self.run_dir.is_dir() and all(p.name == ".hydra" or p.suffix == ".log" for p in self.run_dir.iterdir()):
            shutil.rmtree(self.run_dir, ignore_errors=True)
            if not self.in_sweep:  # and the dated folders Hydra made for it, when they are empty now
                for parent in self.run_dir.parents:
                    if parent == Path.cwd() or not parent.is_relative_to(Path.cwd()):
                        break
                    try:
                        parent.rmdir()
                    except OSError:
                        break
        if self.in_sweep:
            self.write_point_file({"status": "INVALID", "error": reason})
