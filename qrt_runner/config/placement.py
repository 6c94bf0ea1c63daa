"""Where a kicked-Ising circuit runs: the coupling graph it is cut from, and its patch as layout.

``circuit=kicked_ising`` follows a device's coupling graph (``circuit.device``) unless it gives
its own edges (``circuit.coupling``). :func:`place_kicked_ising` fills in the device's edges (the
circuit and ``observables=kicked_ising`` are built from them) and, on that same device with no
``transpile.initial_layout`` given, lays virtual qubit ``i`` on the patch's ``i``-th physical
qubit, so that the circuit runs where it was cut from, without swaps.
"""

from __future__ import annotations

from dataclasses import replace

from qrt_runner.config import schema as s
from qrt_runner.errors import ConfigError
from qrt_runner.execution.devices import device as fake_device
from qrt_runner.execution.fake_backends import fake_backend_names
from qrt_runner.workload.kicked_ising import checked_patch

__all__ = ["place_kicked_ising"]


def _device_edges(key: str, name: str) -> list[list[int]]:
    if name not in fake_backend_names():
        raise ConfigError(
            key,
            name,
            "is not a fake device whose coupling graph the circuit could follow",
            "name one (e.g. fake_sherbrooke, fake_kyiv) or give circuit.coupling=[[0,1],[1,2],...]",
        )
    coupling_map = fake_device(name).coupling_map
    return [[int(a), int(b)] for a, b in coupling_map.get_edges()]


def place_kicked_ising(spec):
    """``spec`` with its kicked-Ising circuit's coupling edges and layout filled in (unchanged for
    other circuits; raises ConfigError)."""
    circuit = spec.circuit
    if not isinstance(circuit, s.KickedIsingCircuit):
        return spec
    own_edges = bool(circuit.coupling)
    edges = list(circuit.coupling) if own_edges else _device_edges("circuit.device", circuit.device)
    physical, _ = checked_patch("circuit", circuit.num_qubits, edges, circuit.device)
    changes: dict = {"circuit": replace(circuit, coupling=edges)}
    observables = spec.observables
    if isinstance(observables, s.KickedIsingObservables) and not observables.coupling:
        same = observables.device == circuit.device
        coupling = edges if same else _device_edges("observables.device", observables.device)
        changes["observables"] = replace(observables, coupling=coupling)
    backend = spec.backend
    device = backend.name if isinstance(backend, s.BackendConfig) else getattr(backend, "device", None)
    if not own_edges and device == circuit.device and spec.transpile.initial_layout is None:
        changes["transpile"] = replace(spec.transpile, initial_layout=list(physical))
    return replace(spec, **changes)
