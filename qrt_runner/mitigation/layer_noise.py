"""Layer noise models for PEC and PEA: a sparse Pauli-Lindblad channel per two-qubit layer.

A channel ``prod_k (w_k rho + (1 - w_k) P_k rho P_k)`` with ``w_k = (1 + exp(-2 r_k)) / 2`` is
given by generators ``P_k`` and rates ``r_k >= 0``; it multiplies a Pauli Q by
``exp(-2 sum of r_k over the P_k that anticommute with Q)``.

On a fake device the model needs no learning: the simulator's own error on every two-qubit gate
(Aer's ``basic_device_gate_errors``, the same the noise model uses) is Pauli-twirled (the
diagonal of its Pauli transfer matrix) and fitted exactly with all 15 two-qubit generators. A
layer's model is the product of its gates' models, dressed as IBM's learned layers are: the
errors of the single-qubit gates placed before the layer (since the previous one), each fitted
with the generators X, Y, Z and carried through the layer's Clifford gates (an error P before G
is G P G^dagger after it), are part of it. A model can also come from a JSON or YAML file in the
format :func:`layer_to_dict` writes (IBM's local mode needs the user to bring one).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from itertools import product
from pathlib import Path

import numpy as np

_LETTERS = "IXYZ"
FORMAT = "qrt-layer-noise/1"


@dataclass(frozen=True)
class PauliLindblad:
    """Generators on ``qubits`` (the last letter of a label acts on ``qubits[0]``) and their rates."""

    qubits: tuple[int, ...]
    labels: tuple[str, ...]
    rates: tuple[float, ...]

    @property
    def total_rate(self) -> float:
        return float(sum(self.rates))


def _symplectic(label: str) -> tuple[np.ndarray, np.ndarray]:
    letters = label[::-1]  # index i = qubit i
    x = np.array([c in "XY" for c in letters], dtype=bool)
    z = np.array([c in "YZ" for c in letters], dtype=bool)
    return x, z


def anticommutes(a: str, b: str) -> bool:
    ax, az = _symplectic(a)
    bx, bz = _symplectic(b)
    return bool((np.sum(ax & bz) + np.sum(az & bx)) % 2)


def pauli_fidelities(error) -> dict[str, float]:
    """``Tr(P E(P)) / d`` for every Pauli P of an n-qubit channel (a ``QuantumError`` or channel)."""
    from qiskit.quantum_info import Kraus, Pauli

    channel = error.to_quantumchannel() if hasattr(error, "to_quantumchannel") else error
    kraus = Kraus(channel).data
    width = channel.num_qubits
    out = {}
    for letters in product(_LETTERS, repeat=width):
        label = "".join(letters)
        matrix = Pauli(label).to_matrix()
        image = sum(k @ matrix @ k.conj().T for k in kraus)
        out[label] = float(np.real(np.trace(matrix @ image)) / 2**width)
    return out


def fit_rates(fidelities: dict[str, float], generators: list[str]) -> np.ndarray:
    """Non-negative rates of ``generators`` whose channel best matches the Pauli fidelities."""
    from scipy.optimize import nnls

    targets = [label for label in fidelities if set(label) != {"I"}]
    matrix = np.array([[anticommutes(q, g) for g in generators] for q in targets], dtype=float)
    values = np.array([-0.5 * np.log(max(fidelities[q], 1e-12)) for q in targets])
    rates, _ = nnls(matrix, values)
    return rates


@lru_cache(maxsize=512)
def gate_model(device_name: str, gate: str, qubit0: int, qubit1: int) -> PauliLindblad:
    """The Pauli-twirled error of ``gate`` on device qubits (qubit0, qubit1) as a Pauli-Lindblad model."""
    from qiskit_aer.noise.device import basic_device_gate_errors

    from qrt_runner.execution.devices import device as fake_device
    from qrt_runner.execution.simulation.noise import sub_target

    target = sub_target(fake_device(device_name).target, (qubit0, qubit1))
    errors = {(name, tuple(qubits)): error for name, qubits, error in basic_device_gate_errors(target=target)}
    error = errors.get((gate, (0, 1)))
    if error is None:
        return PauliLindblad((qubit0, qubit1), (), ())
    generators = ["".join(p) for p in product(_LETTERS, repeat=2) if p != ("I", "I")]
    rates = fit_rates(pauli_fidelities(error), generators)
    kept = [(g, float(r)) for g, r in zip(generators, rates) if r > 1e-12]
    return PauliLindblad((qubit0, qubit1), tuple(g for g, _ in kept), tuple(r for _, r in kept))


def _embed(label: str, qubits: tuple[int, ...], into: tuple[int, ...]) -> str:
    letters = ["I"] * len(into)
    position = {q: i for i, q in enumerate(into)}
    for i, letter in enumerate(reversed(label)):
        letters[len(into) - 1 - position[qubits[i]]] = letter
    return "".join(letters)


def combine(models: list[PauliLindblad]) -> PauliLindblad:
    """The generators of several models, each embedded on the union of their qubits (the
    product of the channels when their generators differ; see :func:`merge`)."""
    qubits = tuple(sorted({q for m in models for q in m.qubits}))
    labels, rates = [], []
    for model in models:
        for label, rate in zip(model.labels, model.rates):
            labels.append(_embed(label, model.qubits, qubits))
            rates.append(rate)
    return PauliLindblad(qubits, tuple(labels), tuple(rates))


def merge(models: list[PauliLindblad]) -> PauliLindblad:
    """The product of channels on any qubits, as one model on all their qubits: generators of
    equal label add their rates (Pauli-Lindblad generators commute, so the product is their sum)."""
    combined = combine(models)
    rates: dict[str, float] = {}
    for label, rate in zip(combined.labels, combined.rates):
        rates[label] = rates.get(label, 0.0) + rate
    return PauliLindblad(combined.qubits, tuple(rates), tuple(rates.values()))


@lru_cache(maxsize=512)
def single_gate_model(device_name: str, gate: str, qubit: int) -> PauliLindblad:
    """The Pauli-twirled error of the single-qubit ``gate`` on device ``qubit`` (generators X, Y, Z)."""
    from qiskit_aer.noise.device import basic_device_gate_errors

    from qrt_runner.execution.devices import device as fake_device
    from qrt_runner.execution.simulation.noise import sub_target

    target = sub_target(fake_device(device_name).target, (qubit,))
    errors = {(name, tuple(qubits)): error for name, qubits, error in basic_device_gate_errors(target=target)}
    error = errors.get((gate, (0,)))
    if error is None:
        return PauliLindblad((qubit,), (), ())
    generators = ["X", "Y", "Z"]
    rates = fit_rates(pauli_fidelities(error), generators)
    kept = [(g, float(r)) for g, r in zip(generators, rates) if r > 1e-12]
    return PauliLindblad((qubit,), tuple(g for g, _ in kept), tuple(r for _, r in kept))


LayerKey = tuple[tuple[str, int, int], ...]  # sorted (gate, physical qubit0, physical qubit1)
Dressing = tuple[tuple[str, int], ...]  # (single-qubit gate, physical qubit) before the layer, in order


def carried_through(model: PauliLindblad, key: LayerKey) -> PauliLindblad:
    """A single-qubit model on ``model.qubits[0]`` before the layer ``key``, as the model after it."""
    from qrt_runner.mitigation.twirling import conjugate

    (qubit,) = model.qubits
    gate = next(((name, q0, q1) for name, q0, q1 in key if qubit in (q0, q1)), None)
    if gate is None:
        return model
    name, q0, q1 = gate
    labels = []
    for label in model.labels:
        p = _LETTERS.index(label)
        c0, c1 = conjugate(name, p, 0) if qubit == q0 else conjugate(name, 0, p)
        labels.append(_LETTERS[c1] + _LETTERS[c0])  # qubits (q0, q1): q0 is the last letter
    return PauliLindblad((q0, q1), tuple(labels), model.rates)


class DeviceLayerNoise:
    """Layer models derived from a fake device's own noise model (dressed with the single-qubit
    gates before each layer)."""

    def __init__(self, device_name: str):
        self.device_name = device_name
        self.source = f"{device_name} noise model"

    def model(self, key: LayerKey, dressing: Dressing = ()) -> PauliLindblad | None:
        parts = [gate_model(self.device_name, name, q0, q1) for name, q0, q1 in key]
        for name, qubit in dressing:
            single = single_gate_model(self.device_name, name, qubit)
            if single.labels:
                parts.append(carried_through(single, key))
        return merge(parts)


class FileLayerNoise:
    """Layer models read from a file; layers it does not list are treated as noiseless (as IBM does).

    A layer is found by its gates and dressing; failing that, by its gates alone.
    """

    def __init__(self, path: str, layers: dict[tuple[LayerKey, Dressing], PauliLindblad]):
        self.source = path
        self.layers = layers
        self._by_gates: dict[LayerKey, PauliLindblad] = {}
        for (key, dressing), model in layers.items():
            if not dressing or key not in self._by_gates:
                self._by_gates[key] = model

    def model(self, key: LayerKey, dressing: Dressing = ()) -> PauliLindblad | None:
        return self.layers.get((key, dressing)) or self._by_gates.get(key)


def layer_to_dict(key: LayerKey, model: PauliLindblad, dressing: Dressing = ()) -> dict:
    """One layer in the file format: gates, dressing (when any), qubits and generator rates."""
    out: dict = {"gates": [list(gate) for gate in key]}
    if dressing:
        out["dressing"] = [list(gate) for gate in dressing]
    out.update(qubits=list(model.qubits), generators={label: rate for label, rate in zip(model.labels, model.rates)})
    return out


def load_layer_noise(path: str) -> FileLayerNoise:
    """Read a layer noise model file (JSON or YAML); ValueError with the reason when it is malformed."""
    text = Path(path).read_text()
    if path.endswith((".yaml", ".yml")):
        import yaml

        data = yaml.safe_load(text)
    else:
        data = json.loads(text)
    if isinstance(data, dict) and "layer_noise_model" in data:  # a results.json mitigation block
        data = data["layer_noise_model"]
    if not isinstance(data, dict) or not isinstance(data.get("layers"), list):
        raise ValueError("expected a mapping with a 'layers' list")
    layers = {}
    for number, layer in enumerate(data["layers"]):
        try:
            key = tuple(sorted((str(g[0]), int(g[1]), int(g[2])) for g in layer["gates"]))
            dressing = tuple((str(g[0]), int(g[1])) for g in layer.get("dressing") or [])
            qubits = tuple(int(q) for q in layer["qubits"])
            generators = {str(label): float(rate) for label, rate in layer["generators"].items()}
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise ValueError(
                f"layer {number}: needs gates [[name, q0, q1], ...], qubits [...] and generators {{label: rate}} ({exc})"
            ) from None
        for label, rate in generators.items():
            if len(label) != len(qubits) or set(label) - set(_LETTERS):
                raise ValueError(f"layer {number}: generator {label!r} must be {len(qubits)} letters of I, X, Y, Z")
            if rate < 0 or not np.isfinite(rate):
                raise ValueError(f"layer {number}: rate of {label} must be finite and >= 0, got {rate}")
        gate_qubits = {q for _, q0, q1 in key for q in (q0, q1)}
        if not gate_qubits <= set(qubits):
            raise ValueError(f"layer {number}: qubits {list(qubits)} must include every gate qubit")
        layers[key, dressing] = PauliLindblad(qubits, tuple(generators), tuple(generators.values()))
    return FileLayerNoise(path, layers)


@lru_cache(maxsize=8)
def _load_cached(path: str, mtime: float) -> FileLayerNoise:
    return load_layer_noise(path)


def layer_noise_source(path: str | None, device_name: str | None):
    """The file's layer models when ``path`` is given, else the fake device's own."""
    if path is not None:
        return _load_cached(path, Path(path).stat().st_mtime)
    if device_name is None:
        raise ValueError("PEC and PEA need a layer noise model: give a file, or run on a fake device")
    return DeviceLayerNoise(device_name)
