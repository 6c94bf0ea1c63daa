"""Ray's address lookup, and the points that Hydra's Ray launcher plugin submits.

Checked against ray 2.60 and hydra-ray-launcher 1.2.2 (tests/test_ray_cluster.py). Ray and the
plugin are the ``ray`` extra; they are imported only inside the functions, when called.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from qrt_runner.adapters.versions import check_versions

__all__ = ["SUPPORTED", "bootstrap_address", "check_supported", "on_submit"]

SUPPORTED = {
    "ray": ">=2.60,<3",
    "hydra-ray-launcher": ">=1.2.2,<2",
}


def check_supported() -> None:
    """Raise :class:`~qrt_runner.adapters.versions.UnsupportedVersion` unless Ray and the plugin
    are in :data:`SUPPORTED`."""
    check_versions(__name__, SUPPORTED)


def bootstrap_address(address: str | None) -> str | None:
    """The ``host:port`` of the running cluster that ``ray.init(address=address)`` would join
    (``auto``: ``RAY_ADDRESS``, else the cluster last started on this machine), or None when
    ``ray.init`` would start a cluster of its own. Through
    ``ray._private.services.canonicalize_bootstrap_address``. Public: none (``ray.init`` resolves
    the address as it connects, and waits on an address where no cluster answers).

    Raises:
        ConnectionError: ``auto`` and no cluster is known on this machine.
        ValueError: an address that is not ``host:port``.
    """
    import importlib

    # typed Any: Ray's annotation says str, its docstring documents None (and mypy sees Ray's
    # annotations only where the ray extra is installed)
    services: Any = importlib.import_module("ray._private.services")
    return services.canonicalize_bootstrap_address(address)


def on_submit(record: Callable[[Any], None]) -> None:
    """Have ``record(ref)`` called with the ``ObjectRef`` of every point the plugin's launcher
    submits from now on (the latest ``record`` replaces an earlier one). Through the name
    ``launch_job_on_ray`` in ``hydra_plugins.hydra_ray_launcher._core``, which the plugin's
    ``launch`` calls once per point and which is wrapped here. Public: none (``RayLauncher.launch``
    keeps the references to itself, and waits on them with no way to cancel them)."""
    from hydra_plugins.hydra_ray_launcher import _core

    _RECORD[0] = record
    if getattr(_core.launch_job_on_ray, _WRAPPED, False):
        return
    submit = _core.launch_job_on_ray

    def launch_job_on_ray(*args: Any, **kwargs: Any) -> Any:
        ref = submit(*args, **kwargs)
        if _RECORD[0] is not None:
            _RECORD[0](ref)
        return ref

    setattr(launch_job_on_ray, _WRAPPED, True)
    _core.launch_job_on_ray = launch_job_on_ray


_RECORD: list[Callable[[Any], None] | None] = [None]
_WRAPPED = "_qrt_records_refs"
