"""Layer noise learned as IBM's noise learner learns it, run in the simulator on a fake device.

For one layer of two-qubit gates (on device qubits), the learning circuits prepare a product of
Pauli eigenstates, apply the layer ``2 d`` times for every pair depth d of
``layer_pair_depths``, and measure in the same bases; gate twirling (the estimator's own, so
dressed as it dresses) makes each layer's noise a Pauli channel, and measurement twirling makes
readout symmetric. Nine bases (X, Y, Z on the two colours of the layer's coupling graph) cover
every weight-1 Pauli and every weight-2 Pauli on a coupling edge. Each basis and depth is
``num_randomizations`` twirls of ``shots_per_randomization`` shots, simulated with the device's
noise model as the estimator simulates it (:mod:`qrt_runner.execution.simulation.task`). The
decay of every Pauli gives its pair fidelity, and the sparse model is fitted from them
(:mod:`.noise_learning_fit`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from itertools import product

import numpy as np
from qiskit import QuantumCircuit

from qrt_runner.mitigation.layer_noise import Dressing, LayerKey, PauliLindblad
from qrt_runner.mitigation.measure_twirl import measure_qubits, qubit_flip_angles
from qrt_runner.mitigation.noise_learning_fit import SparseFit, conjugate_label, fit_decay, model_labels, solve_rates
from qrt_runner.mitigation.pauli_terms import mean_and_covariance, parity_mask, shot_values
from qrt_runner.mitigation.twirling import twirl_angles, twirl_template

#: IBM's defaults (``NoiseLearnerV3Options``, ``LayerNoiseLearningOptions``).
DEFAULT_PAIR_DEPTHS = (0, 1, 2, 4, 16, 32)
DEFAULT_RANDOMIZATIONS = 32
DEFAULT_SHOTS_PER_RANDOMIZATION = 128
DEFAULT_MAX_LAYERS = 4
_HALF_PI = np.pi / 2
#: The twirlable gates a pair of layers undoes (the learning protocol's layer pairs).
SELF_INVERSE = frozenset({"cx", "cy", "cz", "ecr", "swap"})


@dataclass(frozen=True)
class LearningOptions:
    """How a layer is learned (IBM's option names and defaults)."""

    layer_pair_depths: tuple[int, ...] = DEFAULT_PAIR_DEPTHS
    num_randomizations: int = DEFAULT_RANDOMIZATIONS
    shots_per_randomization: int = DEFAULT_SHOTS_PER_RANDOMIZATION
    max_layers_to_learn: int | None = DEFAULT_MAX_LAYERS


@dataclass(frozen=True)
class LayerToLearn:
    """A layer: its gates (name, device qubit, device qubit), every device qubit it twirls (gate
    qubits and twirled idle ones, sorted), and whether the twirl is IBM's compiled dressing."""

    gates: LayerKey
    qubits: tuple[int, ...]
    dressed: bool = False

    def compact_gates(self) -> tuple[tuple[str, int, int], ...]:
        index = {q: i for i, q in enumerate(self.qubits)}
        return tuple((name, index[a], index[b]) for name, a, b in self.gates)


@dataclass
class LearnedLayer:
    """A learned layer: the model (on ``layer.qubits``), its fit, the pair fidelities learned
    (Pauli -> (value, std, partner, chi2 per degree of freedom of the decay fit)) and the cost."""

    layer: LayerToLearn
    fit: SparseFit
    pair_fidelities: dict[str, tuple[float, float, str, float]]
    circuits: int
    shots: int
    wall_s: float
    options: LearningOptions = field(default_factory=LearningOptions)

    def model(self) -> PauliLindblad:
        """The learned channel: the generators with a rate above zero (NNLS sets the others to 0)."""
        kept = [(label, rate) for label, rate in zip(self.fit.labels, self.fit.rates) if rate > 0]
        return PauliLindblad(self.layer.qubits, tuple(g for g, _ in kept), tuple(r for _, r in kept))


def coupling_edges(device_name: str, qubits: tuple[int, ...]) -> list[tuple[int, int]]:
    """The device's coupling edges between ``qubits`` (compact indices, each edge once)."""
    from qrt_runner.execution.devices import device

    index = {q: i for i, q in enumerate(qubits)}
    edges = set()
    for a, b in device(device_name).target.build_coupling_map().get_edges():
        if a in index and b in index:
            edges.add(tuple(sorted((index[a], index[b]))))
    return sorted(edges)  # type: ignore[arg-type]


def measurement_bases(num_qubits: int, edges: list[tuple[int, int]]) -> list[tuple[str, ...]]:
    """Nine bases (letter per compact qubit) covering every weight-1 Pauli and every weight-2
    Pauli on an edge: the two colours of the (bipartite) coupling graph take each pair of letters.

    Raises:
        ValueError: when the layer's coupling graph is not bipartite.
    """
    colour: dict[int, int] = {}
    for start in range(num_qubits):
        if start in colour:
            continue
        colour[start], stack = 0, [start]
        while stack:
            q = stack.pop()
            for a, b in edges:
                other = b if a == q else a if b == q else None
                if other is None:
                    continue
                if other not in colour:
                    colour[other] = 1 - colour[q]
                    stack.append(other)
                elif colour[other] == colour[q]:
                    raise ValueError("the layer's coupling graph is not bipartite: nine bases cannot cover it")
    return [tuple((a, b)[colour[q]] for q in range(num_qubits)) for a, b in product("XYZ", repeat=2)]


def _prepare(circuit: QuantumCircuit, qubit: int, letter: str) -> None:
    """|0> -> the +1 eigenstate of ``letter`` in ISA gates (X: H; Y: S H)."""
    if letter in "XY":
        circuit.rz(_HALF_PI, qubit)
        circuit.sx(qubit)
        circuit.rz(np.pi if letter == "Y" else _HALF_PI, qubit)


def _unprepare(circuit: QuantumCircuit, qubit: int, letter: str) -> None:
    """The +1 eigenstate of ``letter`` -> |0> in ISA gates (X: H; Y: H Sdg)."""
    if letter == "X":
        circuit.rz(_HALF_PI, qubit)
        circuit.sx(qubit)
        circuit.rz(_HALF_PI, qubit)
    elif letter == "Y":
        circuit.sx(qubit)
        circuit.rz(_HALF_PI, qubit)


def learning_circuit(layer: LayerToLearn, basis: tuple[str, ...], pair_depth: int) -> QuantumCircuit:
    """Prepare ``basis``, the layer ``2 * pair_depth`` times, rotate back: a twirl template (as the
    estimator twirls, dressed or not) with twirled measurements of every qubit."""
    width = len(layer.qubits)
    circuit = QuantumCircuit(width)
    for qubit, letter in enumerate(basis):
        _prepare(circuit, qubit, letter)
    for _ in range(2 * pair_depth):
        for name, a, b in layer.compact_gates():
            circuit.append(standard_gate(name), [a, b])
    for qubit, letter in enumerate(basis):
        _unprepare(circuit, qubit, letter)
    if layer.dressed and pair_depth == 0:  # a compiled dressing on every qubit, as deeper circuits end with
        for qubit in range(width):
            circuit.sx(qubit)
            circuit.rz(np.pi, qubit)
            circuit.sx(qubit)
            circuit.rz(np.pi, qubit)
    template = twirl_template(circuit, "all", layer.dressed) if pair_depth else circuit
    return measure_qubits(template, list(range(width)), "qrt_learn", twirled=True)


def standard_gate(name: str):
    """Qiskit's standard gate of that name (``cx``, ``ecr``, ...)."""
    from qiskit.circuit.library import get_standard_gate_name_mapping

    return get_standard_gate_name_mapping()[name]


def learning_cost(num_layers: int, options: LearningOptions) -> tuple[int, int]:
    """(circuits, shots) of learning ``num_layers`` layers: nine bases per depth, each
    ``num_randomizations`` twirls of ``shots_per_randomization`` shots."""
    circuits = num_layers * 9 * len(options.layer_pair_depths) * options.num_randomizations
    return circuits, circuits * options.shots_per_randomization


def learn_layer(
    device_name: str, layer: LayerToLearn, options: LearningOptions, seed: int, noise: str = "device"
) -> LearnedLayer:
    """Run the learning circuits of ``layer`` on the fake device's noise and fit its model."""
    from qrt_runner.execution.simulation.task import SimTask, execute

    wrong = sorted({name for name, _, _ in layer.gates} - SELF_INVERSE)
    if wrong:
        raise ValueError(f"layer noise learning repeats layers in pairs: {', '.join(wrong)} is not its own inverse")
    started = time.perf_counter()
    width = len(layer.qubits)
    edges = coupling_edges(device_name, layer.qubits)
    labels = model_labels(width, edges)
    gates = layer.compact_gates()
    partners = {label: conjugate_label(label, gates) for label in labels}
    bases = measurement_bases(width, edges)
    depths = tuple(sorted(set(options.layer_pair_depths)))
    rng = np.random.default_rng([seed, 27])
    reps = options.num_randomizations
    circuits, flips_of = [], []
    values: list[np.ndarray | None] = []
    for basis in bases:
        for depth in depths:
            circuit = learning_circuit(layer, basis, depth)
            flips = rng.integers(0, 2, size=(reps, width))
            columns = {**qubit_flip_angles(flips, 1), **twirl_angles(circuit, reps, rng)}
            circuits.append(circuit)
            values.append(np.stack([columns[p.name] for p in circuit.parameters], axis=1))
            flips_of.append(flips)
    task = SimTask(
        kind="counts",
        device=None if noise == "none" else device_name,  # as the backend runs noise=none: ideal
        qubits=layer.qubits,
        method="automatic",
        threads=1,
        seed=int(seed),
        shots=options.shots_per_randomization,
        circuits=list(circuits),
        parameter_values=values,
        noise=noise,
    )
    output, _ = execute(task)
    decays: dict[str, list[tuple[int, float, float]]] = {label: [] for label in labels}
    index = 0
    for basis in bases:
        measured = [label for label in labels if _in_basis(label, basis)]
        for depth in depths:
            circuit, rows = circuits[index], output[index]
            masks = np.array([parity_mask(label, circuit) for label in measured], dtype=np.int64)
            shot, weights = shot_values(rows, flips_of[index], circuit, masks)
            mean, cov = mean_and_covariance(shot, weights)
            for k, label in enumerate(measured):
                decays[label].append((depth, float(mean[k]), float(np.sqrt(max(cov[k, k], 1e-12)))))
            index += 1
    pair_fidelities = {}
    for label, points in decays.items():
        d, v, s = _pooled(points)
        lam, lam_std, _, chi2 = fit_decay(d, v, s, f"Pauli {label} of layer {describe(layer, device_name)}")
        pair_fidelities[label] = (lam, lam_std, partners[label], chi2)
    fit = solve_rates(
        labels, partners, {k: v[0] for k, v in pair_fidelities.items()}, {k: v[1] for k, v in pair_fidelities.items()}
    )
    num_circuits, shots = learning_cost(1, LearningOptions(depths, reps, options.shots_per_randomization))
    return LearnedLayer(layer, fit, pair_fidelities, num_circuits, shots, time.perf_counter() - started, options)


def describe(layer: LayerToLearn, device_name: str) -> str:
    """A layer in words: ``cx(0,1) cx(2,3) on fake_manila qubits (0, 1, 2, 3)`` (letters of a
    Pauli label run from the last qubit listed to the first)."""
    gates = " ".join(f"{name}({a},{b})" for name, a, b in layer.gates)
    return f"{gates} on {device_name} qubits {layer.qubits}"


def _in_basis(label: str, basis: tuple[str, ...]) -> bool:
    width = len(label)
    return all(label[width - 1 - q] in ("I", basis[q]) for q in range(width))


def _pooled(points: list[tuple[int, float, float]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per depth, the inverse-variance mean of a Pauli's values over the bases that measured it."""
    depths = sorted({d for d, _, _ in points})
    means, stds = [], []
    for depth in depths:
        v = np.array([x for d, x, _ in points if d == depth])
        w = 1.0 / np.array([s for d, _, s in points if d == depth]) ** 2
        means.append(float(v @ w / w.sum()))
        stds.append(float(1.0 / np.sqrt(w.sum())))
    return np.array(depths, dtype=float), np.array(means), np.array(stds)


_LEARNED: dict[tuple, LearnedLayer] = {}  # one learning per device, layer, options and seed in a process


def learned(device_name: str, layer: LayerToLearn, options: LearningOptions, seed: int, noise: str = "device"):
    """:func:`learn_layer`, once per process for the same device, layer, options, seed and noise."""
    key = (device_name, layer, options, seed, noise)
    if key not in _LEARNED:
        _LEARNED[key] = learn_layer(device_name, layer, options, seed, noise)
    return _LEARNED[key]


def layer_of(key: LayerKey, dressing: Dressing, dressed: bool) -> LayerToLearn:
    """The layer to learn for a template layer: its gate qubits, and with compiled dressings
    every qubit dressed (the twirled idle ones too)."""
    qubits = {q for _, a, b in key for q in (a, b)}
    if dressed:
        qubits |= {q for _, q in dressing}
    return LayerToLearn(tuple(sorted(key)), tuple(sorted(qubits)), dressed)


class LearnedLayerNoise:
    """Layer models learned on the fake device (a layer noise source for PEC and PEA): each
    unique layer is learned once, at most ``max_layers_to_learn`` of them (in the order the
    circuits meet them); the others are unmodelled (treated as noiseless, as IBM does)."""

    def __init__(self, device_name: str, options: LearningOptions, dressed: bool, seed: int, noise: str = "device"):
        self.device_name, self.options, self.dressed, self.seed, self.noise = device_name, options, dressed, seed, noise
        self.source = f"learned on {device_name}" + ("" if noise == "device" else f" ({noise} noise)")
        self.layers: dict[tuple[LayerKey, Dressing], LearnedLayer] = {}
        self.skipped: list[LayerKey] = []

    def model(self, key: LayerKey, dressing: Dressing = ()) -> PauliLindblad | None:
        if (key, dressing) not in self.layers:
            limit = self.options.max_layers_to_learn
            if limit is not None and len({k for k, _ in self.layers}) >= limit and key not in self._keys():
                self.skipped.append(key)
                return None
            layer = layer_of(key, dressing, self.dressed)
            self.layers[key, dressing] = learned(self.device_name, layer, self.options, self.seed, self.noise)
        return self.layers[key, dressing].model()

    def _keys(self) -> set[LayerKey]:
        return {k for k, _ in self.layers}

    def layer_details(self, key: LayerKey, dressing: Dressing) -> dict:
        """What the layer's record adds: rate errors, pair fidelities with residuals, cost."""
        from qrt_runner.mitigation.noise_learning_file import learned_details

        found = self.layers.get((key, dressing))
        return {} if found is None else learned_details(found)

    def summary(self) -> dict:
        """The learning's options and cost (for the record and ``qrt-run estimate``)."""
        from qrt_runner.mitigation.noise_learning_file import learning_summary

        unique = list({id(layer): layer for layer in self.layers.values()}.values())  # shared by dressings
        return learning_summary(unique, self.options, len(set(self.skipped)))
