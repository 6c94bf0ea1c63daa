"""The outcome of the runs this process made standalone, and the exit code it gives.

A sweep's outcome is not collected here from its points (they may run in other processes); the
sweep's closing callback reads it from the points' records and reports it with :func:`sweep`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["EXIT_FAILED", "EXIT_INTERRUPTED", "EXIT_INVALID", "EXIT_OK", "EXIT_UNTRACKED", "Outcome", "current"]

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_INVALID = 2
EXIT_UNTRACKED = 3
EXIT_INTERRUPTED = 130


@dataclass
class Outcome:
    """What went wrong, as one-line messages per kind."""

    invalid: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    untracked: list[str] = field(default_factory=list)
    run_dirs: list[str] = field(default_factory=list)  # of standalone runs and sweeps, for messages

    def exit_code(self) -> int:
        if self.invalid:
            return EXIT_INVALID
        if self.failed:
            return EXIT_FAILED
        if self.untracked:
            return EXIT_UNTRACKED
        return EXIT_OK

    def messages(self) -> list[str]:
        """The lines ``qrt-run`` prints on stderr at the end."""
        lines = [f"qrt-run: invalid config: {message}" for message in dict.fromkeys(self.invalid)]
        if self.failed:
            lines.append(f"qrt-run: {len(self.failed)} run(s) failed: " + "; ".join(self.failed))
        if self.untracked:
            lines.append(f"qrt-run: {len(self.untracked)} run(s) not tracked: " + "; ".join(self.untracked))
        return lines


_CURRENT = Outcome()


def current() -> Outcome:
    return _CURRENT


def invalid(message: str) -> None:
    _CURRENT.invalid.append(message)


def finished(run_dir: str, status: str, error: str | None, offline_reason: str | None) -> None:
    """Record a standalone run's end: failed unless FINISHED; untracked when the store was offline."""
    _CURRENT.run_dirs.append(run_dir)
    if status != "FINISHED":
        _CURRENT.failed.append(f"{run_dir}: {error}")
    if offline_reason is not None:
        _CURRENT.untracked.append(f"{offline_reason}; upload with: qrt-run sync {run_dir}")


def sweep(result: Outcome, directory: str) -> None:
    """Merge a closed sweep's outcome."""
    _CURRENT.run_dirs.append(directory)
    _CURRENT.invalid.extend(result.invalid)
    _CURRENT.failed.extend(result.failed)
    _CURRENT.untracked.extend(result.untracked)
