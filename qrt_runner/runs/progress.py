"""A one-line terminal progress bar for optimisation loops."""

from __future__ import annotations

import sys


class ProgressBar:
    """``iter 12/100 [#####.....] E=-1.8501 ± 0.0100 best=-1.8560``; redrawn in place on a TTY,
    one line every tenth of the run otherwise (logs stay readable)."""

    def __init__(self, total: int, stream=None, width: int = 24):
        self.total, self.width = max(total, 1), width
        self.stream = stream or sys.stdout
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.every = max(1, self.total // 10)
        self._open = False

    def update(self, iteration: int, energy: float, std: float, best: float) -> None:
        filled = min(self.width, round(self.width * iteration / self.total))
        line = f"  iter {iteration}/{self.total} [{'#' * filled}{'.' * (self.width - filled)}] E={energy:+.6f} ± {std:.4f} best={best:+.6f}"
        if self.tty:
            self.stream.write("\r" + line)
            self._open = True
        elif iteration % self.every == 0 or iteration == 1:
            self.stream.write(line + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self._open:
            self.stream.write("\n")
            self.stream.flush()
            self._open = False
