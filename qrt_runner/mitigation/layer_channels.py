"""PEC and PEA on a twirled template: a Pauli channel right behind every layer.

PEC (probabilistic error cancellation) applies the inverse of each layer's noise as a
quasi-probability mixture: generator P_k with probability (1 - exp(-2 |c| r_k)) / 2 and a sign
flip, for a cancelled fraction c = 1 - noise_gain. The estimate is gamma times the sign-weighted
mean, gamma = exp(2 |c| sum r_k), and its variance grows by the sampling overhead gamma squared.
PEA (probabilistic error amplification) injects each generator a further (factor - 1) times, for
zero-noise extrapolation without deeper circuits.

Both are one ``PauliLindbladError`` per layer and group of overlapping generators, placed right
after the layer's gates; the simulator draws its Paulis afresh for every shot (or, as a density
matrix, applies the mixture exactly, which gives the same distribution of outcomes). For PEC
every generator also flips a noiseless sign qubit, so that each shot carries the parity of the
Paulis applied to it, which is its sign. One circuit per twirl randomisation then covers any
number of shots: there is no need for a binding per shot.
"""

from __future__ import annotations

import math

from qiskit import ClassicalRegister, QuantumCircuit, QuantumRegister
from qiskit.quantum_info import Pauli

from qrt_runner.mitigation.layer_noise import PauliLindblad, layer_to_dict
from qrt_runner.mitigation.twirling import twirl_layers

SIGN_REGISTER = "qrt_sign"


class LayerNoisePlan:
    """The noise model of every layer of one template circuit, and the channels that cancel or
    amplify it.

    Args:
        template: a circuit from :func:`~qrt_runner.mitigation.twirling.twirl_template`.
        physical_qubits: the device qubit of every compact qubit of ``template``.
        source: ``model(key, dressing)`` per layer (see :mod:`qrt_runner.mitigation.layer_noise`).
    """

    def __init__(self, template: QuantumCircuit, physical_qubits: tuple[int, ...], source):
        self.source = source
        self.physical_qubits = physical_qubits
        layers = twirl_layers(template)
        self.keys = [
            tuple(sorted((name, physical_qubits[a], physical_qubits[b]) for name, a, b in layer.gates))
            for layer in layers
        ]
        self.dressings = [tuple((name, physical_qubits[q]) for name, q in layer.dressing) for layer in layers]
        cache: dict = {}
        self.models: list[PauliLindblad | None] = []
        for key, dressing in zip(self.keys, self.dressings):
            if (key, dressing) not in cache:
                cache[key, dressing] = source.model(key, dressing)
            self.models.append(cache[key, dressing])
        self.unique = cache
        self.total_rate = float(sum(model.total_rate for model in self.models if model is not None))
        self._compact = {q: i for i, q in enumerate(physical_qubits)}
        for model in filter(None, self.models):
            for label in model.labels:
                for i, qubit in enumerate(model.qubits):
                    if label[len(label) - 1 - i] != "I" and qubit not in self._compact:
                        raise ValueError(f"layer noise on qubit {qubit}, which the circuit does not use")

    # -- PEC ------------------------------------------------------------------------------
    def pec_gain(self, noise_gain: float | str, max_overhead: float) -> float:
        """The noise gain to use: the given one, or for ``auto`` the smallest within ``max_overhead``.

        Raises:
            ValueError: when a given gain needs more than ``max_overhead``.
        """
        if noise_gain == "auto":
            if self.total_rate == 0:
                return 0.0
            return max(0.0, 1.0 - math.log(max_overhead) / (4 * self.total_rate))
        overhead = self.overhead(float(noise_gain))
        if overhead > max_overhead * (1 + 1e-9):
            raise ValueError(
                f"PEC sampling overhead {overhead:.3g} with noise_gain {noise_gain} exceeds "
                f"mitigation.resilience.pec.max_overhead={max_overhead:g}: raise it or set pec.noise_gain=auto"
            )
        return float(noise_gain)

    def overhead(self, gain: float) -> float:
        """Sampling overhead gamma squared of cancelling the fraction (1 - gain) of the noise."""
        return math.exp(4 * max(1.0 - gain, 0.0) * self.total_rate)

    def gamma(self, gain: float) -> float:
        """PEC's gamma: the factor on the sign-weighted mean."""
        return math.exp(2 * max(1.0 - gain, 0.0) * self.total_rate)

    # -- channels -------------------------------------------------------------------------
    def channels(self, scale: float, sign_qubit: int | None = None) -> dict[int, list[tuple[object, tuple[int, ...]]]]:
        """Per layer number, ``(instruction, compact qubits)`` of the channels multiplying every
        rate by ``scale``: the inverse part (PEC, with ``sign_qubit``) or extra noise (PEA)."""
        from qiskit_aer.noise import PauliLindbladError

        out: dict[int, list] = {}
        if scale <= 0:
            return out
        for number, model in enumerate(self.models):
            if model is None or not model.labels:
                continue
            for qubits, labels, rates in self._components(model):
                extra = (sign_qubit,) if sign_qubit is not None else ()
                paulis = [Pauli(("X" if extra else "") + label) for label in labels]
                error = PauliLindbladError(paulis, [scale * rate for rate in rates])
                out.setdefault(number, []).append((error.to_instruction(), (*qubits, *extra)))
        return out

    def _components(self, model: PauliLindblad):
        """The model's generators in groups acting on disjoint compact qubits: ``(qubits, labels, rates)``
        with labels on ``qubits`` (the last letter on ``qubits[0]``)."""
        supports = []
        for label in model.labels:
            supports.append({self._compact[q] for i, q in enumerate(model.qubits) if label[len(label) - 1 - i] != "I"})
        groups: list[tuple[set, list[int]]] = []
        for index, support in enumerate(supports):
            joined = [g for g in groups if g[0] & support]
            merged = (set(support), [index])
            for group in joined:
                merged[0].update(group[0])
                merged[1].extend(group[1])
                groups.remove(group)
            groups.append(merged)
        groups = [part for group in groups for part in _split_wide(group, supports)]
        for support, members in groups:
            qubits = tuple(sorted(support))
            labels, rates = [], []
            for index in sorted(members):
                label = model.labels[index]
                on = {self._compact[q]: label[len(label) - 1 - i] for i, q in enumerate(model.qubits)}
                labels.append("".join(on.get(q, "I") for q in reversed(qubits)))
                rates.append(model.rates[index])
            yield qubits, labels, rates

    def describe(self) -> dict:
        """The layer noise model (file format) with its source, for results.json."""
        unique = [(key, dressing, model) for (key, dressing), model in self.unique.items() if model is not None]
        details = getattr(self.source, "layer_details", None)  # a learned model's error bars and residuals
        layers = [layer_to_dict(key, model, dressing) for key, dressing, model in unique]
        if details is not None:
            for layer, (key, dressing, _) in zip(layers, unique):
                layer.update(details(key, dressing))
        out = {
            "source": self.source.source,
            "num_layers": len(self.keys),
            "num_unique_layers": len(set(self.keys)),
            "num_unmodelled_layers": sum(1 for model in self.models if model is None),
            "total_rate": self.total_rate,
            "layers": layers,
        }
        if hasattr(self.source, "summary"):
            out["learning"] = self.source.summary()
        return out


def _split_wide(group: tuple[set, list[int]], supports: list[set]) -> list[tuple[set, list[int]]]:
    """A group wider than two qubits (a learned model's generators across gates link them) as one
    group per generator support: the generators commute, so the product of the parts is the same
    channel, and each part stays a small channel to simulate. Two-qubit groups stay as they are."""
    support, members = group
    if len(support) <= 2:
        return [group]
    parts: dict[frozenset, list[int]] = {}
    for index in members:
        parts.setdefault(frozenset(supports[index]), []).append(index)
    return [(set(qubits), indices) for qubits, indices in parts.items()]


def with_channels(template: QuantumCircuit, channels: dict[int, list], sign: bool) -> QuantumCircuit:
    """``template`` with each layer's channels right behind its gates; with ``sign``, one more
    (noiseless) qubit that the channels flip, recorded as ``metadata["qrt_sign_qubit"]``."""
    out = template.copy_empty_like()
    metadata = dict(template.metadata or {})
    if sign:
        register = QuantumRegister(1, SIGN_REGISTER)
        out.add_register(register)
        metadata["qrt_sign_qubit"] = out.find_bit(register[0]).index
    at: dict[int, list] = {}
    for number, end in enumerate(metadata.get("qrt_layer_ends", [])):
        at.setdefault(end, []).extend(channels.get(number, []))
    for index, instruction in enumerate(template.data):
        for operation, qubits in at.get(index, []):
            out.append(operation, [out.qubits[q] for q in qubits], copy=False)
        out.append(instruction.operation, instruction.qubits, instruction.clbits, copy=False)
    for operation, qubits in at.get(len(template.data), []):
        out.append(operation, [out.qubits[q] for q in qubits], copy=False)
    out.metadata = metadata
    return out


def measure_sign(circuit: QuantumCircuit) -> QuantumCircuit:
    """Measure the sign qubit (if any) into its own one-bit register; its clbit position goes to
    ``metadata["qrt_sign_clbit"]``."""
    qubit = (circuit.metadata or {}).get("qrt_sign_qubit")
    if qubit is None:
        return circuit
    register = ClassicalRegister(1, SIGN_REGISTER)
    circuit.add_register(register)
    circuit.measure(qubit, register[0])
    circuit.metadata = {**circuit.metadata, "qrt_sign_clbit": circuit.find_bit(register[0]).index}
    return circuit


def randomizations_for(
    total_shots: int, num_randomizations: int, shots_per_randomization: int | None, auto: bool
) -> tuple[int, int]:
    """(randomisations, shots per randomisation) spending ``total_shots``: ``num_randomizations``
    twirls (the default 32 when ``auto``), the shots shared between them. PEC's signs and PEA's
    injected Paulis are drawn per shot inside each circuit, so the twirls need not be per shot."""
    if shots_per_randomization:
        return max(
            1, -(-total_shots // shots_per_randomization)
        ) if auto else num_randomizations, shots_per_randomization
    return num_randomizations, -(-total_shots // num_randomizations)
