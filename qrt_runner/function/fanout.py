"""Independent points of a function's work, as Ray tasks where Ray is present, else one by one.

Every Qiskit Serverless deployment runs its functions on Ray: inside a job, ``ray.init()``
joins the job's cluster (the working directory, with the packed qrt_runner, travels to each
worker). Points are independent runs, so their order and results do not depend on how they ran.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Sequence
from typing import Any

from qrt_runner.function.errors import FunctionInputError

__all__ = ["FAN_OUT_CHOICES", "fans_out", "map_points", "ray_available"]

FAN_OUT_CHOICES = ("auto", "ray", "serial")


def ray_available() -> bool:
    return importlib.util.find_spec("ray") is not None


def fans_out(points: int, fan_out: str = "auto") -> bool:
    """Whether :func:`map_points` runs ``points`` points as Ray tasks (raises FunctionInputError
    for an unknown ``fan_out``, or ``ray`` without Ray)."""
    if fan_out not in FAN_OUT_CHOICES:
        raise FunctionInputError(f"fan_out={fan_out!r}: choose one of {', '.join(FAN_OUT_CHOICES)}")
    if fan_out == "ray" and not ray_available():
        raise FunctionInputError("fan_out='ray': Ray is not installed here; use fan_out='auto' or 'serial'")
    return fan_out == "ray" or (fan_out == "auto" and points > 1 and ray_available())


def map_points(function: Callable[..., Any], points: Sequence[tuple], fan_out: str = "auto") -> list[Any]:
    """``[function(*point) for point in points]``, as Ray tasks (one CPU each) when ``fan_out`` is
    ``ray``, or ``auto`` with Ray installed and more than one point; in this process otherwise."""
    if not fans_out(len(points), fan_out):
        return [function(*point) for point in points]
    import ray

    if not ray.is_initialized():
        ray.init(include_dashboard=False, ignore_reinit_error=True)
    task = ray.remote(num_cpus=1, max_retries=0)(function)
    return ray.get([task.remote(*point) for point in points])
