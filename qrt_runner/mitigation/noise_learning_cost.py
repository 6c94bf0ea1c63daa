"""What learning a circuit's layer noise costs, before anything runs (``qrt-run estimate``).

The layers are the unique twirled layers of the ISA circuit (as PEC and PEA meet them, at most
``max_layers_to_learn``); each costs nine bases per pair depth, ``num_randomizations`` bindings
of ``shots_per_randomization`` shots. QPU time follows :mod:`qrt_runner.execution.cost` (one job:
overhead, then per binding its overhead and the shots times the circuit's duration and the
repetition delay), the learning circuits' durations from the device's gate durations.
"""

from __future__ import annotations

from typing import Any

from qiskit import QuantumCircuit

from qrt_runner.execution import cost as cost_model
from qrt_runner.mitigation.noise_learning import (
    LayerToLearn,
    LearningOptions,
    coupling_edges,
    layer_of,
    learning_circuit,
    learning_cost,
    measurement_bases,
)
from qrt_runner.mitigation.twirling import twirl_layers, twirl_template

#: Measured on 2 busy cores (fake_manila, one cx layer, density matrix): simulator seconds per
#: learning binding of up to 32 layer pairs; the wall time of a local learning is about this
#: times the bindings (wider layers and deeper pairs cost more).
SIMULATOR_S_PER_BINDING = 3e-3


def layers_to_learn(
    circuit: QuantumCircuit, physical_qubits: tuple[int, ...], strategy: str, dressed: bool, limit: int | None
) -> tuple[list[LayerToLearn], int]:
    """The unique layers of ``circuit`` (compact qubits; ``physical_qubits`` maps them) to learn,
    in the order the circuit meets them, and how many more there are beyond ``limit``."""
    found: list[LayerToLearn] = []
    for layer in twirl_layers(twirl_template(circuit, strategy, dressed)):
        key = tuple(sorted((name, physical_qubits[a], physical_qubits[b]) for name, a, b in layer.gates))
        dressing = tuple((name, physical_qubits[q]) for name, q in layer.dressing)
        learned = layer_of(key, dressing, dressed)
        if learned not in found:
            found.append(learned)
    if limit is None or len(found) <= limit:
        return found, 0
    return found[:limit], len(found) - limit


def learning_estimate(
    circuit: QuantumCircuit,
    physical_qubits: tuple[int, ...],
    device: Any,
    options: LearningOptions,
    strategy: str,
    dressed: bool,
) -> dict[str, Any]:
    """Layers, circuits, bindings, shots, QPU time and the simulator's wall time of learning."""
    layers, beyond = layers_to_learn(circuit, physical_qubits, strategy, dressed, options.max_layers_to_learn)
    bindings, shots = learning_cost(len(layers), options)
    rep_delay = cost_model.rep_delay(device) or cost_model.DEFAULT_REP_DELAY_S
    qpu = cost_model.JOB_OVERHEAD_S if layers else 0.0
    for layer in layers:
        bases = measurement_bases(len(layer.qubits), coupling_edges(device.name, layer.qubits))
        for depth in options.layer_pair_depths:
            duration = cost_model.circuit_duration(
                learning_circuit(layer, bases[0], depth), device.target, layer.qubits
            )
            per_binding = cost_model.BINDING_OVERHEAD_S + options.shots_per_randomization * (duration + rep_delay)
            qpu += len(bases) * options.num_randomizations * per_binding
    return {
        "layers": len(layers),
        "layers_not_learned": beyond,
        "circuits": len(layers) * 9 * len(options.layer_pair_depths),
        "bindings": bindings,
        "shots": shots,
        "qpu_s": qpu,
        "simulator_wall_s": bindings * SIMULATOR_S_PER_BINDING,
        "options": {
            "layer_pair_depths": list(options.layer_pair_depths),
            "num_randomizations": options.num_randomizations,
            "shots_per_randomization": options.shots_per_randomization,
            "max_layers_to_learn": options.max_layers_to_learn,
        },
    }
