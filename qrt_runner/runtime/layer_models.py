"""IBM's ``resilience.layer_noise_model`` (boxed layers and their Pauli-Lindblad maps) for qrt_runner's PEC and PEA.

``Estimator.find_unique_layers(pubs)`` returns each distinct layer of two-qubit gates of the ISA
circuits (qrt_runner's twirled layers, as PEC and PEA see them) as a ``CircuitInstruction`` of a
``BoxOp`` on the circuit's qubits, as IBM's does; the box's label also names the device qubits
(``qrt_layer:q0,q1,...``). A model assigned as ``zip(layers, maps)`` (``PauliLindbladMap`` on the
box's qubits, in their order), or as IBM's ``LayerError`` list / ``NoiseLearnerResult``, becomes
a layer noise model file (:mod:`qrt_runner.mitigation.layer_noise`'s format, named by its
content, under the user's cache folder) that PEC and PEA read instead of the model derived from the device.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from qiskit import QuantumCircuit
from qiskit.circuit import BoxOp, CircuitError, CircuitInstruction
from qiskit.quantum_info import PauliLindbladMap

from qrt_runner.execution.devices import cache_dir
from qrt_runner.mitigation.layer_noise import FORMAT, PauliLindblad, layer_to_dict
from qrt_runner.mitigation.twirling import twirl_layers, twirl_template

__all__ = [
    "LABEL",
    "is_layer_errors",
    "layer_errors_file",
    "layer_key",
    "layer_model_file",
    "layer_pairs",
    "refuse_unmodelled_runs",
    "unique_layers",
]

LABEL = "qrt_layer:"
Gates = tuple[tuple[str, int, int], ...]


def circuit_layers(circuit: QuantumCircuit) -> list[Gates]:
    """The two-qubit layers of an ISA circuit as qrt_runner's PEC and PEA split it: sorted
    ``(gate, device qubit, device qubit)`` per layer, in circuit order."""
    return [tuple(sorted(layer.gates)) for layer in twirl_layers(twirl_template(circuit, "active"))]


def _box(circuit: QuantumCircuit, gates: Gates) -> CircuitInstruction:
    """One layer as a box on the circuit's qubits (sorted device order), labelled with them."""
    qubits = sorted({q for _, q0, q1 in gates for q in (q0, q1)})
    body = QuantumCircuit(len(qubits))
    position = {q: i for i, q in enumerate(qubits)}
    for name, q0, q1 in gates:
        body.append(_gate(circuit, name), [position[q0], position[q1]])
    label = LABEL + ",".join(str(q) for q in qubits)
    return CircuitInstruction(BoxOp(body, label=label), tuple(circuit.qubits[q] for q in qubits))


def _gate(circuit: QuantumCircuit, name: str) -> Any:
    for instruction in circuit.data:
        if instruction.operation.name == name and instruction.operation.num_qubits == 2:
            return instruction.operation
    raise ValueError(f"no {name} gate in the circuit")


def unique_layers(circuits: Iterable[QuantumCircuit]) -> list[CircuitInstruction]:
    """Each distinct two-qubit layer of the circuits once, as a box (first appearance first)."""
    seen: dict[Gates, CircuitInstruction] = {}
    for circuit in circuits:
        for gates in circuit_layers(circuit):
            if gates and gates not in seen:
                seen[gates] = _box(circuit, gates)
    return list(seen.values())


def layer_pairs(value: Any) -> Any:
    """IBM's ``LayerError`` list or ``NoiseLearnerResult`` as ``(box, PauliLindbladMap)`` pairs; anything
    else unchanged (an iterator as a list), for IBM's validation to judge."""
    if value is None or isinstance(value, (str, bytes, dict)):
        return value
    items = list(getattr(value, "data", value)) if not isinstance(value, Sequence) else list(value)
    if items and all(_is_layer_error(item) for item in items):
        return [_from_layer_error(item) for item in items]
    return [_on_box(item) for item in items]


def _on_box(item: Any) -> Any:
    """A pair whose map is indexed by device qubit (as ``NoiseLearnerV3Result.to_pauli_lindblad_map``
    documents: "in physical qubit order") with the map on the box's own qubits, in their order, as
    IBM's validation wants; anything else unchanged."""
    if not (isinstance(item, tuple) and len(item) == 2 and isinstance(item[1], PauliLindbladMap)):
        return item
    box, noise = item
    qubits = getattr(box, "qubits", None)
    if not isinstance(box, CircuitInstruction) or qubits is None or noise.num_qubits == len(qubits):
        return item
    try:
        device = _device_qubits(box, [QuantumCircuit(noise.num_qubits)])
    except ValueError:
        return item
    position = {q: i for i, q in enumerate(device)}
    terms = noise.to_sparse_list()
    if any(q not in position for _, indices, _ in terms for q in indices):
        return item
    local = [(paulis, [position[q] for q in indices], rate) for paulis, indices, rate in terms]
    return box, PauliLindbladMap.from_sparse_list(local, num_qubits=len(qubits))


def is_layer_errors(value: Any) -> bool:
    """Whether ``value`` is IBM's ``NoiseLearnerResult`` or a non-empty list of its ``LayerError``."""
    items = getattr(value, "data", value)
    return isinstance(items, (list, tuple)) and bool(items) and all(_is_layer_error(item) for item in items)


def layer_errors_file(value: Any) -> Any:
    """IBM's ``NoiseLearnerResult`` (or ``LayerError`` list) as a layer noise model file (layers it does
    not list are noiseless, as IBM's ``EstimatorV2`` treats them); anything else unchanged."""
    return layer_model_file(layer_pairs(value), []) if is_layer_errors(value) else value


def refuse_unmodelled_runs(result: Any) -> Any:
    """The result of a job run with a given layer noise model, unless PEC or PEA found none of a PUB's
    layers (as run) in it: ValueError in one line (the values would be unmitigated, labelled mitigated).
    Layers the model does not list are noiseless, as IBM documents, where it lists some."""
    for number, pub_result in enumerate(result):
        mitigation = pub_result.metadata.get("mitigation")
        model = mitigation.get("layer_noise_model") if isinstance(mitigation, dict) else None
        if isinstance(model, dict) and 0 < model.get("num_layers", 0) == model.get("num_unmodelled_layers"):
            raise ValueError(
                f"options.resilience.layer_noise_model has no model for any of the {model['num_layers']} layer(s) "
                f"of PUB {number} as run, so PEC/PEA would mitigate nothing: learn the layers of the PUBs' ISA "
                "circuits (transpiled for the backend) and run those circuits"
            )
    return result


def _is_layer_error(item: Any) -> bool:
    return all(hasattr(item, name) for name in ("circuit", "qubits", "error")) and not isinstance(item, tuple)


def _from_layer_error(layer: Any) -> tuple[CircuitInstruction, PauliLindbladMap]:
    """IBM's ``LayerError`` (a layer circuit on its own qubits, their device labels, a
    ``PauliLindbladError``) as a labelled box and its map."""
    circuit, qubits = layer.circuit, [int(q) for q in layer.qubits]
    body = QuantumCircuit(len(qubits))
    for instruction in circuit.data:
        if instruction.operation.num_qubits == 2 and instruction.operation.name != "barrier":
            body.append(instruction.operation, [circuit.find_bit(q).index for q in instruction.qubits])
    label = LABEL + ",".join(str(q) for q in qubits)
    box = CircuitInstruction(BoxOp(body, label=label), tuple(body.qubits))
    error = layer.error
    terms = (
        [] if error is None else [(p.to_label().lstrip("-i"), float(r)) for p, r in zip(error.generators, error.rates)]
    )
    noise = (
        PauliLindbladMap.from_list(terms, num_qubits=len(qubits)) if terms else PauliLindbladMap.identity(len(qubits))
    )
    return box, noise


def layer_key(box: CircuitInstruction, circuits: Sequence[QuantumCircuit]) -> tuple[Gates, tuple[int, ...]]:
    """A box's gates on device qubits and its device qubits (from its label, or found in the circuits)."""
    operation = box.operation
    qubits = _device_qubits(box, circuits)
    body = operation.body
    gates = []
    for instruction in body.data:
        if instruction.operation.num_qubits == 2 and instruction.operation.name != "barrier":
            a, b = (qubits[body.find_bit(q).index] for q in instruction.qubits)
            gates.append((instruction.operation.name, a, b))
    return tuple(sorted(gates)), qubits


def _device_qubits(box: CircuitInstruction, circuits: Sequence[QuantumCircuit]) -> tuple[int, ...]:
    label = getattr(box.operation, "label", None) or ""
    if label.startswith(LABEL):
        return tuple(int(q) for q in label.removeprefix(LABEL).split(","))
    for circuit in circuits:
        try:
            return tuple(circuit.find_bit(q).index for q in box.qubits)
        except CircuitError:
            continue
    raise ValueError(
        "options.resilience.layer_noise_model: a layer's qubits are not qubits of the PUBs' circuits "
        "(take the layers from find_unique_layers(pubs))"
    )


def _generators(noise: PauliLindbladMap) -> dict[str, float]:
    """The map's generators as dense labels on its qubits (the last letter on qubit 0) and rates."""
    out: dict[str, float] = {}
    for paulis, indices, rate in noise.to_sparse_list():
        letters = ["I"] * noise.num_qubits
        for pauli, index in zip(paulis, indices):
            letters[noise.num_qubits - 1 - index] = pauli
        label = "".join(letters)
        out[label] = out.get(label, 0.0) + float(rate)
    return out


def layer_model_file(
    pairs: Iterable[tuple[CircuitInstruction, PauliLindbladMap]], circuits: Sequence[QuantumCircuit]
) -> str:
    """The pairs as a layer noise model file for PEC and PEA; every two-qubit layer of the circuits must
    have a model (ValueError in one line naming the first that has none)."""
    layers: dict[Gates, dict] = {}
    for box, noise in pairs:
        gates, qubits = layer_key(box, circuits)
        if gates and gates not in layers:
            generators = _generators(noise)
            model = PauliLindblad(tuple(qubits), tuple(generators), tuple(generators.values()))
            layers[gates] = layer_to_dict(gates, model)
    for number, circuit in enumerate(circuits):
        for gates in circuit_layers(circuit):
            if gates not in layers:
                shown = " ".join(f"{name}({q0},{q1})" for name, q0, q1 in gates)
                raise ValueError(
                    f"options.resilience.layer_noise_model has no model for the layer {shown} of PUB {number}: "
                    "learn the layers of find_unique_layers(pubs), or leave it None for the fake device's own model"
                )
    text = json.dumps({"format": FORMAT, "layers": list(layers.values())}, sort_keys=True)
    return _stored(text)


def _stored(text: str) -> str:
    """The model's file under the user's cache (``<cache>/layer_models/<content hash>.json``); a file
    there with other content (damaged, or written by someone else) is replaced, never used."""
    folder = cache_dir() / "layer_models"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{hashlib.sha256(text.encode()).hexdigest()[:24]}.json"
    try:
        if path.read_text() == text:
            return str(path)
    except (OSError, UnicodeDecodeError):
        pass  # missing or unreadable: written below
    with tempfile.NamedTemporaryFile("w", dir=folder, suffix=".tmp", delete=False) as partial:
        partial.write(text)
    Path(partial.name).replace(path)
    return str(path)
