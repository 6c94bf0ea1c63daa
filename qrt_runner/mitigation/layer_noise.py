"""Layer noise models for PEC and PEA: a sparse Pauli-Lindblad channel per two-qubit layer.

A channel ``prod_k (w_k rho + (1 - w_k) P_k rho P_k)`` with ``w_k = (1 + exp(-2 r_k)) / 2`` is
given by generators ``P_k`` and rates ``r_k >= 0``; it multiplies a Pauli Q by
``exp(-2 sum of r_k over the P_k that anticommute with Q)``.

On a fake device the model needs no learning: the simulator's own error on every two-qubit gate
(Aer's ``basic_device_gate_errors``, the same the noise model uses) is Pauli-twirled (the
diagonal of its Pauli transfer matrix) and fitted exactly with all 15 two-qubit generators. A
layer's model is the product of its gates' models. A model can also come from a JSON or YAML
file in the format :func:`layer_to_dict` writes (IBM's local mode needs the user to bring one).
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


def _anticommutes(a: str, b: str) -> bool:
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
    matrix = np.array([[_anticommutes(q, g) for g in generators] for q in targets], dtype=float)
    values = np.array([-0.5 * np.log(max(fidelities[q], 1e-12)) for q in targets])
    rates, _ = nnls(matrix, values)
    return rates


@lru_cache(maxsize=512)
def gate_model(device_name: str, gate: str, qubit0: int, qubit1: int) -> PauliLindblad:
    """The Pauli-twirled error of ``gate`` on device qubits (qubit0, qubit1) as a Pauli-Lindblad model."""
    from qiskit_aer.noise.device.models import basic_device_gate_errors

    from qrt_runner.fake_backends import fake_backend
    from qrt_runner.simulation.noise import sub_target

    target = sub_target(fake_backend(device_name).target, (qubit0, qubit1))
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
    """The product of channels on disjoint qubits, as one model on all their qubits."""
    qubits = tuple(sorted({q for m in models for q in m.qubits}))
    labels, rates = [], []
    for model in models:
        for label, rate in zip(model.labels, model.rates):
            labels.append(_embed(label, model.qubits, qubits))
            rates.append(rate)
    return PauliLindblad(qubits, tuple(labels), tuple(rates))


LayerKey = tuple[tuple[str, int, int], ...]  # sorted (gate, physical qubit0, physical qubit1)


class DeviceLayerNoise:
    """Layer models derived from a fake device's own noise model."""

    def __init__(self, device_name: str):
        self.device_name = device_name
        self.source = f"{device_name} noise model"

    def model(self, key: LayerKey) -> PauliLindblad | None:
        return combine([gate_model(self.device_name, name, q0, q1) for name, q0, q1 in key])


class FileLayerNoise:
    """Layer models read from a file; layers it does not list are treated as noiseless (as IBM does)."""

    def __init__(self, path: str, layers: dict[LayerKey, PauliLindblad]):
        self.source = path
        self.layers = layers

    def model(self, key: LayerKey) -> PauliLindblad | None:
        return self.layers.get(key)


def layer_to_dict(key: LayerKey, model: PauliLindblad) -> dict:
    """One layer in the file format: gates, qubits and generator rates."""
    return {
        "gates": [list(gate) for gate in key],
        "qubits": list(model.qubits),
        "generators": {label: rate for label, rate in zip(model.labels, model.rates)},
    }


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
            qubits = tuple(int(q) for q in layer["qubits"])
            generators = {str(label): float(rate) for label, rate in layer["generators"].items()}
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise ValueError(f"layer {number}: needs gates [[name, q0, q1], ...], qubits [...] and generators {{label: rate}} ({exc})") from None
        for label, rate in generators.items():
            if len(label) != len(qubits) or set(label) - set(_LETTERS):
                raise ValueError(f"layer {number}: generator {label!r} must be {len(qubits)} letters of I, X, Y, Z")
            if rate < 0 or not np.isfinite(rate):
                raise ValueError(f"layer {number}: rate of {label} must be finite and >= 0, got {rate}")
        gate_qubits = {q for _, q0, q1 in key for q in (q0, q1)}
        if not gate_qubits <= set(qubits):
            raise ValueError(f"layer {number}: qubits {list(qubits)} must include every gate qubit")
        layers[key] = PauliLindblad(qubits, tuple(generators), tuple(generators.values()))
    return FileLayerNoise(path, layers)


@dataclass
class CompactModel:
    """A layer model on a circuit's compact qubits, ready for sampling."""

    x: np.ndarray  # (generators, width) bool
    z: np.ndarray
    rates: np.ndarray

    @classmethod
    def from_model(cls, model: PauliLindblad | None, compact_of: dict[int, int], width: int) -> "CompactModel":
        x = np.zeros((0, width), dtype=bool)
        z = np.zeros((0, width), dtype=bool)
        if model is None or not model.labels:
            return cls(x, z, np.zeros(0))
        xs, zs = [], []
        for label in model.labels:
            gx, gz = _symplectic(label)
            row_x, row_z = np.zeros(width, dtype=bool), np.zeros(width, dtype=bool)
            for i, q in enumerate(model.qubits):
                if q not in compact_of:
                    if gx[i] or gz[i]:
                        raise ValueError(f"layer noise on qubit {q}, which the circuit does not use")
                    continue
                row_x[compact_of[q]], row_z[compact_of[q]] = gx[i], gz[i]
            xs.append(row_x)
            zs.append(row_z)
        return cls(np.array(xs), np.array(zs), np.asarray(model.rates, dtype=float))


def sample_paulis(model: CompactModel, change: float, randomizations: int, rng: np.random.Generator):
    """Pauli bits that change every rate by ``change`` times itself, sampled per randomisation.

    ``change > 0`` injects noise (PEA: probabilities, no signs); ``change < 0`` cancels it (PEC:
    each generator P_k is applied with probability (1 - exp(-2 |change| r_k)) / 2 and flips the
    sign; the estimate is gamma times the signed mean, gamma = exp(2 |change| sum r_k)).

    Returns:
        bits ``(randomizations, width, 2)`` (x, z), signs ``(randomizations,)`` and gamma.
    """
    width = model.x.shape[1]
    if change == 0 or model.rates.size == 0:
        return np.zeros((randomizations, width, 2), dtype=np.int64), np.ones(randomizations), 1.0
    rates = abs(change) * model.rates
    chosen = rng.random((randomizations, rates.size)) < (1 - np.exp(-2 * rates)) / 2
    bits = np.stack([(chosen.astype(np.int64) @ model.x) % 2, (chosen.astype(np.int64) @ model.z) % 2], axis=2)
    if change > 0:
        return bits, np.ones(randomizations), 1.0
    signs = np.where(chosen.sum(axis=1) % 2 == 1, -1.0, 1.0)
    return bits, signs, float(np.exp(2 * rates.sum()))


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
