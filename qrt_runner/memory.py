"""This machine's memory, and the size check every array a run plans to build goes through."""

from __future__ import annotations

import os

from qrt_runner.errors import CapacityError

__all__ = ["check_array_size", "memory_budget", "memory_bytes", "size_text"]

_MEMORY_SHARE = 0.5


def memory_bytes() -> int:
    """This machine's physical memory in bytes."""
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def memory_budget() -> int:
    """Bytes one run may plan to hold: half of this machine's physical memory."""
    return int(_MEMORY_SHARE * memory_bytes())


def check_array_size(key: str, value: object, count: int, width: int, fix: str) -> None:
    """Refuse an array of ``count`` x ``width`` numbers that would not fit in memory."""
    needed = 8 * max(count, 1) * max(width, 1)
    if needed > memory_budget():
        raise CapacityError(
            key,
            value,
            f"{count:,} parameter sets of {width} values need {size_text(needed)}, "
            f"more than half this machine's {size_text(memory_bytes())}",
            fix,
        )


def size_text(num_bytes: float) -> str:
    """``num_bytes`` in the largest binary unit below it (``1.5 GiB``)."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"):
        if num_bytes < 1024 or unit == "EiB":
            return f"{num_bytes:,.1f} {unit}" if unit != "B" else f"{num_bytes:,.0f} B"
        num_bytes /= 1024
    return f"{num_bytes:,.1f} EiB"
