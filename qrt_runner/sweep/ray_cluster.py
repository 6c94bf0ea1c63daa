"""A sweep's Ray cluster (``hydra/launcher=ray``), joined or started by the launching process when
the sweep opens; Hydra's Ray launcher then finds Ray connected and submits the points to it.

``hydra.launcher.ray.init`` is passed to ``ray.init``. With an ``address`` (``auto``,
``host:port``, ``ray://host:port``) the cluster must already run: its address is checked first
(``ray.init`` waits forever on an address where nothing answers), and ``object_store_memory``,
which Ray refuses when joining a running cluster, is left out. Without one, Ray starts a local
cluster with the launcher plugin's small object store. Ray's own SIGTERM handler, which
``ray.init`` installs, is replaced by qrt-run's again, so that SIGTERM stops the sweep like
Ctrl-C; the points still queued or running are then cancelled on the cluster.

How many points run at once, and with how many Aer threads each, follows the cluster's CPUs, not
the launching machine's: each point reserves its threads as Ray CPUs (unless
``hydra.launcher.ray.remote.num_cpus`` says how many), so that no node runs more threads than it
has CPUs. Before any point starts, every node is asked whether it sees the sweep directory (a
token file written there: points write their records there, and the launching process reads
them back) and has the launching process's working directory (where the points run).
"""

from __future__ import annotations

import socket
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qrt_runner import interrupts
from qrt_runner.adapters import ray as ray_internals

__all__ = [
    "Cluster",
    "ClusterUnavailable",
    "cancel_points",
    "check_shared_directory",
    "connect",
    "is_ray",
    "track_points",
]

#: The object store of a local Ray started for a sweep (what Hydra's Ray launcher gives it).
LOCAL_OBJECT_STORE_BYTES = 75 * 2**20
#: Seconds a cancelled point has to close its record KILLED before its worker is killed.
CANCEL_GRACE_S = 10.0
_PROBE_TIMEOUT_S = 120.0
# `ray start --head` turns token authentication on where ~/.ray/auth_token exists; a process that
# joins a cluster by its address sends the token only when told to
_AUTH_HINT = "RAY_AUTH_MODE=token, with its token in ~/.ray/auth_token or RAY_AUTH_TOKEN"


class ClusterUnavailable(Exception):
    """The sweep cannot start on the cluster (no cluster at the address, a directory its nodes
    do not see): one line."""


@dataclass(frozen=True)
class Cluster:
    """The CPUs of each alive node of the cluster this process is connected to."""

    node_cpus: tuple[int, ...]

    @property
    def cpus(self) -> int:
        return sum(self.node_cpus)

    def share(self, num_points: int | None, cpus_per_point: float | None) -> tuple[int, int]:
        """(points at once, Aer threads each): with ``cpus_per_point`` (the launcher's
        ``remote.num_cpus``, 1 or more, a fraction too) as many as Ray packs on the nodes with
        that many CPUs each, and its whole part as threads; otherwise the most threads that still
        let the cluster run as many points at once as it has CPUs (or points).

        Raises:
            ClusterUnavailable: no node has the CPUs one point needs (the points would wait forever).
        """
        wanted = max(1, min(num_points or self.cpus, self.cpus))
        if cpus_per_point:
            threads = max(1, int(cpus_per_point))
            slots = sum(int(n // cpus_per_point) for n in self.node_cpus)  # what Ray reserves: the fraction too
        else:
            threads = max(1, min(self.node_cpus, default=1))
            for t in range(max(self.node_cpus, default=1), 0, -1):
                if sum(n // t for n in self.node_cpus) >= wanted:
                    threads = t
                    break
            slots = sum(n // threads for n in self.node_cpus)
        if not slots:
            needs = (
                f"hydra.launcher.ray.remote.num_cpus={cpus_per_point:g}" if cpus_per_point else "a point needs a CPU"
            )
            raise ClusterUnavailable(
                f"no node of the Ray cluster has the CPUs to run a point ({needs}; its nodes have "
                f"{', '.join(map(str, self.node_cpus)) or 'no'} CPUs)"
            )
        return min(wanted, slots), threads


def is_ray(launcher: Any) -> bool:
    return str(launcher.get("_target_", "")).endswith("RayLauncher")


def connect(launcher: Any) -> Cluster:
    """Join (or start) the cluster that ``launcher.ray.init`` names; returns its CPUs.

    Raises:
        ClusterUnavailable: no cluster answers at the address.
    """
    import ray
    from omegaconf import OmegaConf

    init = OmegaConf.to_container((launcher.get("ray") or {}).get("init") or {}, resolve=True)
    assert isinstance(init, dict)
    if not ray.is_initialized():
        address = init.get("address")
        if not str(address).startswith("ray://"):  # (Ray Client would pass it on to the cluster)
            init.setdefault("logging_level", "WARNING")  # not Ray's INFO lines ("Connected to Ray cluster.")
        if address:
            init.pop("object_store_memory", None)
            _check_reachable(str(address))
        else:
            init.setdefault("object_store_memory", LOCAL_OBJECT_STORE_BYTES)
        try:
            ray.init(**{str(key): value for key, value in init.items() if value is not None or key == "address"})
        except (ConnectionError, ValueError, RuntimeError, OSError, ray.exceptions.RayError) as exc:
            # (OSError: a TimeoutError too; RayError: an AuthenticationError, joining without the token)
            reason = f"{type(exc).__name__}: {_first_line(exc)}"
            if address and isinstance(exc, ConnectionError | ray.exceptions.AuthenticationError):
                # it answered, but refused this process
                reason += f" (if the cluster uses token authentication, set {_AUTH_HINT})"
            raise ClusterUnavailable(_unreachable(address, reason)) from None
        finally:
            interrupts.install()  # ray.init replaced qrt-run's SIGTERM handler with its own
    nodes = [node for node in ray.nodes() if node.get("Alive")]
    return Cluster(tuple(int(node["Resources"].get("CPU", 0)) for node in nodes if node["Resources"].get("CPU")))


def _check_reachable(address: str) -> None:
    client = address.startswith("ray://")
    try:
        target = address.removeprefix("ray://") if client else ray_internals.bootstrap_address(address)
    except (ConnectionError, ValueError) as exc:
        raise ClusterUnavailable(_unreachable(address, _first_line(exc))) from None
    host, _, port = (target or "").rpartition(":")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=10):
            pass
    except (OSError, ValueError) as exc:
        where = f" ({target})" if target != address.removeprefix("ray://") else ""
        raise ClusterUnavailable(_unreachable(address, f"nothing answers there{where}: {exc}")) from None


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or ["no message"])[0]


def _unreachable(address: Any, reason: str) -> str:
    if not address:
        return f"could not start a local Ray cluster: {reason}"
    return (
        f"no Ray cluster at hydra.launcher.ray.init.address={address}: {reason}; start one with "
        "`ray start --head` (README: Running on a Ray cluster) or fix the address"
    )


def check_shared_directory(directory: Path, working_dir: Path) -> None:
    """Refuse a sweep directory that a node of the cluster does not see (no shared filesystem),
    or a working directory (where the points run) that a node does not have.

    Raises:
        ClusterUnavailable: naming the first node and what it lacks.
    """
    import ray
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    token = uuid.uuid4().hex
    marker = directory / f".qrt-nodes-see-{token}"
    try:
        marker.write_text(token)
    except OSError as exc:
        raise ClusterUnavailable(
            f"cannot write the token file that the Ray cluster's nodes read in hydra.sweep.dir={directory} "
            f"({exc.strerror or type(exc).__name__}); run the sweep from a writable shared folder"
        ) from None
    try:
        nodes = [n for n in ray.nodes() if n.get("Alive") and n["Resources"].get("CPU")]
        probe = ray.remote(num_cpus=0, max_retries=0)(_lacks)
        refs = [
            probe.options(scheduling_strategy=NodeAffinitySchedulingStrategy(node["NodeID"], soft=False)).remote(
                str(marker), token, str(working_dir)
            )
            for node in nodes
        ]
        try:
            lacking = ray.get(refs, timeout=_PROBE_TIMEOUT_S)
        except ray.exceptions.RayError as exc:  # (a timeout too)
            raise ClusterUnavailable(
                f"could not ask the Ray cluster's nodes whether they see hydra.sweep.dir={directory} "
                f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else 'no answer'}; "
                f"{_PROBE_TIMEOUT_S:.0f} s allowed)"
            ) from None
    finally:
        marker.unlink(missing_ok=True)
    for node, lacks in zip(nodes, lacking, strict=True):
        if lacks is not None:
            where = node["NodeManagerAddress"]
            what = (
                f"hydra.sweep.dir={directory} is not visible from Ray node {where}, where points write their records"
                if lacks == "sweep_dir"
                else f"Ray node {where} has no folder {working_dir}, the working directory its points run in"
            )
            raise ClusterUnavailable(
                f"{what}: run the sweep from a folder that every node mounts at the same path "
                "(README: Running on a Ray cluster)"
            )


def _lacks(marker: str, token: str, working_dir: str) -> str | None:
    """(On a node) what it lacks: "sweep_dir" (the token file is not there with its token),
    "working_dir", or None."""
    try:
        if Path(marker).read_text() != token:
            return "sweep_dir"
    except OSError:
        return "sweep_dir"
    return None if Path(working_dir).is_dir() else "working_dir"


def track_points() -> None:
    """Remember every point the launcher submits from now on (for :func:`cancel_points`)."""
    _SUBMITTED.clear()
    ray_internals.on_submit(_SUBMITTED.append)


def cancel_points() -> None:
    """Cancel the submitted points still queued or running (an interrupted sweep): a running point
    gets a KeyboardInterrupt and closes its record KILLED; one still running after
    :data:`CANCEL_GRACE_S` is killed with its worker (the sweep then closes its run KILLED)."""
    refs = list(_SUBMITTED)
    _SUBMITTED.clear()
    if not refs:
        return
    import ray

    with interrupts.deferred():
        _, unfinished = ray.wait(refs, num_returns=len(refs), timeout=0)
        for ref in unfinished:
            ray.cancel(ref)
        if unfinished:
            _, left = ray.wait(unfinished, num_returns=len(unfinished), timeout=CANCEL_GRACE_S)
            for ref in left:
                ray.cancel(ref, force=True)


_SUBMITTED: list[Any] = []
