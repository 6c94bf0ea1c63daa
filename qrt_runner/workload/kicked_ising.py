"""The kicked-Ising circuit of IBM's utility experiment.

Kim et al., "Evidence for the utility of quantum computing before fault tolerance", Nature 618,
500-505 (2023): on a heavy-hex device, each Trotter step of the transverse-field Ising model is
``RX(theta_h)`` on every qubit, then ``RZZ(-pi/2)`` on every edge of the coupling graph, the edges
applied in three layers (an edge colouring of the heavy-hex graph into three matchings, so that
each layer's gates act on disjoint qubits). At ``theta_h`` in {0, pi/2} the circuit is Clifford.

:func:`kicked_ising` builds it on a connected patch of a device's coupling graph (so that a 20-,
50- or 100-qubit circuit needs no routing), :func:`heavy_hex_layers` makes the layers, and
:func:`kicked_ising_observables` gives single-site and high-weight Z observables like the paper's.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable, Sequence

from qiskit import QuantumCircuit
from qiskit.circuit import ParameterExpression
from qiskit.quantum_info import SparsePauliOp

from qrt_runner.errors import ConfigError

__all__ = ["checked_patch", "connected_patch", "heavy_hex_layers", "kicked_ising", "kicked_ising_observables", "patch"]

Edge = tuple[int, int]


def _undirected(coupling_edges: Iterable[Sequence[int]], qubits: Iterable[int] | None = None) -> list[Edge]:
    """The edges among ``qubits`` (all if None), as sorted pairs without repeats or self-loops."""
    keep = None if qubits is None else set(qubits)
    edges = set()
    for a, b in coupling_edges:
        a, b = int(a), int(b)
        if a != b and (keep is None or (a in keep and b in keep)):
            edges.add((min(a, b), max(a, b)))
    return sorted(edges)


def _adjacency(edges: Iterable[Edge]) -> dict[int, list[int]]:
    neighbours: dict[int, set[int]] = {}
    for a, b in edges:
        neighbours.setdefault(a, set()).add(b)
        neighbours.setdefault(b, set()).add(a)
    return {q: sorted(n) for q, n in neighbours.items()}


def _bipartition(edges: list[Edge]) -> dict[int, int] | None:
    """A 2-colouring of the vertices of ``edges``, or None if the graph has an odd cycle."""
    neighbours = _adjacency(edges)
    side: dict[int, int] = {}
    for start in neighbours:
        if start in side:
            continue
        side[start] = 0
        queue = deque([start])
        while queue:
            q = queue.popleft()
            for n in neighbours[q]:
                if n not in side:
                    side[n] = 1 - side[q]
                    queue.append(n)
                elif side[n] == side[q]:
                    return None
    return side


def _konig_colouring(edges: list[Edge]) -> list[int]:
    """A colouring of a bipartite graph's edges with max-degree colours (alternating-path swaps)."""
    degree: dict[int, int] = {}
    for a, b in edges:
        degree[a] = degree.get(a, 0) + 1
        degree[b] = degree.get(b, 0) + 1
    colours = max(degree.values(), default=0)
    at: dict[int, dict[int, int]] = {q: {} for q in degree}  # vertex -> colour -> the other end
    for a, b in edges:
        free_a = next(c for c in range(colours) if c not in at[a])
        free_b = next(c for c in range(colours) if c not in at[b])
        if free_a != free_b and free_a in at[b]:
            # Swap free_a and free_b along the path from b that alternates them; in a bipartite
            # graph it cannot reach a, so free_a becomes free at b and stays free at a.
            path = [b]
            colour = free_a
            while colour in at[path[-1]]:
                path.append(at[path[-1]][colour])
                colour = free_b if colour == free_a else free_a
            for u, v in zip(path, path[1:], strict=False):
                old = free_a if at[u].get(free_a) == v else free_b
                del at[u][old], at[v][old]
            colour = free_a
            for u, v in zip(path, path[1:], strict=False):
                new = free_b if colour == free_a else free_a
                at[u][new], at[v][new] = v, u
                colour = free_b if colour == free_a else free_a
        at[a][free_a], at[b][free_a] = b, a
    index = {(min(a, b), max(a, b)): i for i, (a, b) in enumerate(edges)}
    result = [-1] * len(edges)
    for q, used in at.items():
        for c, n in used.items():
            result[index[(min(q, n), max(q, n))]] = c
    return result


def heavy_hex_layers(coupling_edges: Iterable[Sequence[int]], qubits: Iterable[int]) -> list[list[Edge]]:
    """The edges among ``qubits`` partitioned into matchings (layers of gates on disjoint qubits).

    Edges are undirected and deduplicated (a device's two directions of one link are one edge),
    each an ascending pair. A greedy colouring in order of the sorted edges gives each edge the
    lowest layer free at both its ends; where that needs more layers than the largest degree and
    the graph is bipartite (heavy-hex is), the edges are coloured again with exactly as many
    layers as the largest degree, by König's alternating-path method. On a heavy-hex device
    (largest degree 3) that is three layers. Layers are listed in order, each sorted; no edges,
    no layers.
    """
    edges = _undirected(coupling_edges, qubits)
    used: dict[int, set[int]] = {}
    greedy = []
    for a, b in edges:
        taken = used.setdefault(a, set()) | used.setdefault(b, set())
        colour = next(c for c in range(len(taken) + 1) if c not in taken)
        used[a].add(colour)
        used[b].add(colour)
        greedy.append(colour)
    largest_degree = max((len(n) for n in _adjacency(edges).values()), default=0)
    colouring = greedy
    if greedy and max(greedy) + 1 > largest_degree and _bipartition(edges) is not None:
        colouring = _konig_colouring(edges)
    layers: list[list[Edge]] = [[] for _ in range(max(colouring, default=-1) + 1)]
    for edge, colour in zip(edges, colouring, strict=True):
        layers[colour].append(edge)
    return layers


def connected_patch(coupling_edges: Iterable[Sequence[int]], num_qubits: int, start: int = 0) -> list[int]:
    """``num_qubits`` physical qubits connected in the coupling graph, sorted: the first
    ``num_qubits`` that a breadth-first search from ``start`` reaches (neighbours in ascending
    order). Raises ValueError if ``start``'s component is smaller."""
    neighbours = _adjacency(_undirected(coupling_edges))
    if num_qubits < 1:
        raise ValueError(f"num_qubits must be at least 1, got {num_qubits}")
    seen = [start]
    found = {start}
    queue = deque([start])
    while queue and len(seen) < num_qubits:
        for n in neighbours.get(queue.popleft(), []):
            if n not in found and len(seen) < num_qubits:
                found.add(n)
                seen.append(n)
                queue.append(n)
    if len(seen) < num_qubits:
        raise ValueError(
            f"the coupling graph has only {len(seen)} qubits connected to qubit {start}; {num_qubits} were asked for"
        )
    return sorted(seen)


def patch(coupling_edges: Iterable[Sequence[int]], num_qubits: int) -> tuple[list[int], list[Edge]]:
    """The :func:`connected_patch` from qubit 0 and its edges in virtual qubits (virtual qubit
    ``i`` is the patch's ``i``-th physical qubit in ascending order), as :func:`kicked_ising` uses."""
    edge_list = [(int(a), int(b)) for a, b in coupling_edges]
    physical = connected_patch(edge_list, num_qubits)
    virtual = {q: i for i, q in enumerate(physical)}
    return physical, [(virtual[a], virtual[b]) for a, b in _undirected(edge_list, physical)]


def checked_patch(key: str, num_qubits: int, coupling: list, device: str) -> tuple[list[int], list]:
    """The patch of ``coupling`` (filled from ``device`` when the spec is checked) for a
    kicked-Ising circuit or its observables (raises ConfigError)."""
    if num_qubits < 1:
        raise ConfigError(f"{key}.num_qubits", num_qubits, "must be at least 1", f"set {key}.num_qubits")
    if not coupling:
        raise ConfigError(
            f"{key}.coupling", [], f"is empty and {device!r} is not a device", "name a fake device or give edges"
        )
    try:
        return patch(coupling, num_qubits)
    except (ValueError, TypeError) as exc:
        raise ConfigError(
            f"{key}.num_qubits", num_qubits, f"does not fit the coupling graph of {device} ({exc})", "use fewer qubits"
        ) from None


def kicked_ising(
    num_qubits: int,
    steps: int,
    theta: float | ParameterExpression,
    coupling_edges: Iterable[Sequence[int]],
    *,
    measure: bool = False,
) -> QuantumCircuit:
    """The kicked-Ising circuit on a connected ``num_qubits``-qubit patch of a coupling graph.

    The patch is :func:`connected_patch` from qubit 0; virtual qubit ``i`` is the ``i``-th of its
    physical qubits in ascending order, listed in ``metadata["physical_qubits"]`` (pass it as the
    transpiler's ``initial_layout`` to run the circuit on that patch without swaps). Each of the
    ``steps`` steps is ``rx(theta)`` on every qubit, then ``rzz(-pi/2)`` on every edge of the patch,
    in the layers of :func:`heavy_hex_layers` (``metadata["layers"]``, virtual qubit pairs).
    ``theta`` may be a Parameter. With ``measure``, every qubit is measured at the end
    (``measure_all``). ``steps`` = 0 gives an empty circuit; one qubit has no edges.
    """
    if steps < 0:
        raise ValueError(f"steps must be non-negative, got {steps}")
    physical, edges = patch(coupling_edges, num_qubits)
    layers = heavy_hex_layers(edges, range(num_qubits))
    circuit = QuantumCircuit(num_qubits, name=f"kicked_ising_{num_qubits}q_{steps}s")
    for _ in range(steps):
        for qubit in range(num_qubits):
            circuit.rx(theta, qubit)
        for layer in layers:
            for a, b in layer:
                circuit.rzz(-math.pi / 2, a, b)
    if measure:
        circuit.measure_all()
    circuit.metadata = {
        "physical_qubits": physical,
        "edges": [list(edge) for edge in sorted(edges)],
        "layers": [[list(edge) for edge in layer] for layer in layers],
        "steps": steps,
    }
    return circuit


def _z_label(num_qubits: int, qubits: Iterable[int]) -> str:
    chars = ["I"] * num_qubits
    for q in qubits:
        chars[num_qubits - 1 - q] = "Z"
    return "".join(chars)


def kicked_ising_observables(
    num_qubits: int, edges: Iterable[Sequence[int]], weight: int = 10
) -> list[tuple[str, SparsePauliOp]]:
    """Single-site and high-weight Z observables of a kicked-Ising circuit, as (label, operator).

    ``edges`` are the circuit's virtual edges (``metadata["edges"]`` of :func:`kicked_ising`).
    Single-site ``Z`` on the middle qubit (``num_qubits // 2``), the first and the last; then, when
    ``num_qubits >= weight``, the product of ``Z`` on ``weight`` connected qubits: the first
    ``weight`` that a breadth-first search from the middle qubit reaches. Like the paper's
    weight-10 and weight-17 observables it has expectation 1 at ``theta`` = 0 and decays with it,
    but it is Z-only (the paper's are stabilizers of the Clifford circuit at theta = pi/2, mixing X,
    Y and Z). Labels are the Pauli strings, little-endian as in Qiskit (qubit 0 rightmost). Raises
    ValueError when the middle qubit's component has fewer than ``weight`` qubits.
    """
    if num_qubits < 1:
        raise ValueError(f"num_qubits must be at least 1, got {num_qubits}")
    middle = num_qubits // 2
    singles = list(dict.fromkeys([middle, 0, num_qubits - 1]))
    observables = []
    for qubit in singles:
        label = _z_label(num_qubits, [qubit])
        observables.append((label, SparsePauliOp(label)))
    if weight > 1 and num_qubits >= weight:
        in_range = [(a, b) for a, b in edges if 0 <= a < num_qubits and 0 <= b < num_qubits]
        qubits = connected_patch(in_range, weight, start=middle) if in_range else [middle]
        if len(qubits) < weight:
            raise ValueError(f"no {weight} connected qubits around qubit {middle}")
        label = _z_label(num_qubits, qubits)
        observables.append((label, SparsePauliOp(label)))
    return observables
