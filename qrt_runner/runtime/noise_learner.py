"""``NoiseLearnerV3`` and ``NoiseLearner`` with qiskit-ibm-runtime's call shapes, learning locally.

``NoiseLearnerV3(mode, options).run(layers).result().to_pauli_lindblad_maps()`` as IBM's: on a
fake device (or a :class:`~qrt_runner.runtime.Session`/``Batch`` on one) the learning circuits
run in the simulator with the device's noise (:mod:`qrt_runner.mitigation.noise_learning`),
where IBM's local mode refuses ("not supported in local mode"); on an IBM Quantum backend (or
IBM's Session/Batch) IBM's own learner runs. ``NoiseLearner`` is the V2 shape of 0.3x-era
scripts: ``run(circuits)`` finds the unique layers itself (``twirling_strategy``, at most
``max_layers_to_learn`` of the most frequent) and returns IBM's ``NoiseLearnerResult`` of
``LayerError``\\ s. Options are IBM's own models (``NoiseLearnerV3Options``, ``NoiseLearnerOptions``).
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Iterable
from typing import Any

from qiskit import QuantumCircuit, QuantumRegister

from qrt_runner.adapters.qiskit_ibm_runtime import is_unset
from qrt_runner.errors import ConfigError
from qrt_runner.mitigation.layer_noise import LayerKey, PauliLindblad
from qrt_runner.mitigation.noise_learning import LayerToLearn, LearnedLayer, LearningOptions, learned, standard_gate
from qrt_runner.mitigation.twirling import TWIRLABLE, twirl_layers, twirl_template
from qrt_runner.runtime.session import Session, device_of, local_backend

__all__ = ["NoiseLearner", "NoiseLearnerJob", "NoiseLearnerV3", "layer_model"]


class NoiseLearnerJob:
    """A finished learning job with IBM's accessors (``job_id()``, ``status()``, ``result()``)."""

    def __init__(self, result: Any, usage_s: float, session_id: str | None) -> None:
        self._id, self._result, self._usage, self.session_id = uuid.uuid4().hex, result, usage_s, session_id
        self.creation_date = time.time()

    def job_id(self) -> str:
        return self._id

    def result(self) -> Any:
        return self._result

    def status(self) -> str:
        return "DONE"

    def done(self) -> bool:
        return True

    def running(self) -> bool:
        return False

    def cancelled(self) -> bool:
        return False

    def in_final_state(self) -> bool:
        return True

    def cancel(self) -> bool:
        return False

    def usage(self) -> float:
        """Seconds the learning ran (IBM: quantum seconds billed)."""
        return self._usage


def _is_ibm(mode: Any) -> bool:
    """Whether ``mode`` is IBM Quantum's (a real ``IBMBackend``, or IBM's Session/Batch on one)."""
    import qiskit_ibm_runtime as ibm

    backend = getattr(mode, "_backend", None) if isinstance(mode, (ibm.Session, ibm.Batch)) else mode
    return isinstance(backend, ibm.IBMBackend)


class _LocalLearner:
    """What both shapes share: the mode, the local backend and the learning of layers."""

    def __init__(self, mode: Any) -> None:
        if mode is None:
            raise TypeError(f"{type(self).__name__}: give mode=... (a fake device such as FakeManilaV2(), a Session)")
        self._mode = mode

    def backend(self) -> Any:
        """The fake device the learning runs on (IBM's ``backend()``)."""
        return self._mode._backend if isinstance(self._mode, Session) else device_of(self._mode)

    @property
    def mode(self) -> Session | None:
        return self._mode if isinstance(self._mode, Session) else None

    def _learn(self, layers: list[LayerKey], options: LearningOptions, seed: Any) -> tuple[list[LearnedLayer], float]:
        backend = self._mode._open(None)[0] if isinstance(self._mode, Session) else local_backend(self._mode)
        if backend.device is None:
            raise ConfigError("mode", backend.name, "has no noise to learn", "use a fake device (e.g. FakeManilaV2())")
        seed = backend.seed_simulator if seed is None or is_unset(seed) else int(seed)
        started = time.perf_counter()
        found = []
        for key in layers:
            qubits = tuple(sorted({q for _, a, b in key for q in (a, b)}))
            found.append(learned(backend.name, LayerToLearn(key, qubits), options, seed, backend.noise))
        return found, time.perf_counter() - started


class NoiseLearnerV3(_LocalLearner):
    """IBM's ``NoiseLearnerV3``: ``run(instructions)``, each a boxed layer (IBM's
    ``find_unique_layers``), a one-layer circuit, or a tuple of ``(gate, qubit, qubit)``; the
    result is IBM's ``NoiseLearnerV3Results``, one ``NoiseLearnerV3Result`` per instruction
    (generators on the device's qubits, rates with their standard deviations)."""

    def __init__(self, mode: Any = None, options: Any = None) -> None:
        from qiskit_ibm_runtime.options_models import NoiseLearnerV3Options

        super().__init__(mode)
        self._ibm = _is_ibm(mode)
        if self._ibm:
            from qiskit_ibm_runtime import NoiseLearnerV3 as IbmNoiseLearnerV3

            self._delegate = IbmNoiseLearnerV3(mode, options)
        if options is None:
            options = NoiseLearnerV3Options()
        self.options = options if isinstance(options, NoiseLearnerV3Options) else NoiseLearnerV3Options(**options)

    def run(self, instructions: Iterable[Any], dry_run: bool = False) -> Any:
        if self._ibm:
            self._delegate.options = self.options
            return self._delegate.run(instructions, dry_run=dry_run)
        if dry_run:
            raise ConfigError("dry_run", True, "is IBM Quantum's server-side check", "run without dry_run locally")
        options = self.options
        for name, on in (
            ("bit_flip_checks.pre_circuit.enable", options.bit_flip_checks.pre_circuit.enable),
            ("bit_flip_checks.post_circuit.enable", options.bit_flip_checks.post_circuit.enable),
            ("experimental", bool(options.experimental)),
        ):
            if on:
                raise ConfigError(f"options.{name}", True, "is not simulated by qrt_runner", "leave it at its default")
        num_qubits = self.backend().num_qubits
        keys = [layer_key(instruction, num_qubits) for instruction in instructions]
        learning = LearningOptions(
            tuple(options.layer_pair_depths), options.num_randomizations, options.shots_per_randomization, None
        )
        found, wall = self._learn(keys, learning, options.simulator.seed_simulator)
        return NoiseLearnerJob(_v3_results(found, num_qubits), wall, getattr(self.mode, "session_id", None))


def layer_key(instruction: Any, num_qubits: int) -> LayerKey:
    """The gates ``(name, device qubit, device qubit)`` of a layer given as IBM's boxed layer (a
    ``CircuitInstruction`` on ``QuantumRegister(num_qubits, "q")``), a circuit on device qubits,
    or gate tuples.

    Raises:
        ValueError: when it holds no twirlable two-qubit gate, or its qubits are not the device's.
    """
    if isinstance(instruction, (tuple, list)):
        key = tuple(sorted((str(g[0]), int(g[1]), int(g[2])) for g in instruction))
    elif isinstance(instruction, QuantumCircuit):
        key = tuple(
            sorted(
                (i.operation.name, instruction.find_bit(i.qubits[0]).index, instruction.find_bit(i.qubits[1]).index)
                for i in instruction.data
                if i.operation.num_qubits == 2 and i.operation.name in TWIRLABLE
            )
        )
    else:
        operation = getattr(instruction, "operation", None)
        if operation is None or operation.name != "box":
            raise ValueError(f"a layer to learn is a boxed layer, a circuit or gate tuples, not {type(instruction)}")
        register = QuantumRegister(num_qubits, "q")
        outer = [register.index(bit) if bit in register else None for bit in instruction.qubits]
        if None in outer:
            raise ValueError(f"a boxed layer's qubits must be the device's register QuantumRegister({num_qubits}, 'q')")
        body = operation.blocks[0]
        key = tuple(
            sorted(
                (i.operation.name, outer[body.find_bit(i.qubits[0]).index], outer[body.find_bit(i.qubits[1]).index])
                for i in body.data
                if i.operation.num_qubits == 2 and i.operation.name in TWIRLABLE
            )
        )
    if not key:
        raise ValueError("the layer holds no two-qubit Clifford gate to learn (cx, cz, ecr, ...)")
    return key


def _v3_results(found: list[LearnedLayer], num_qubits: int) -> Any:
    from qiskit.quantum_info import QubitSparsePauli, QubitSparsePauliList
    from qiskit_ibm_runtime.results import NoiseLearnerV3Result, NoiseLearnerV3Results

    data = []
    for layer in found:
        generators = []
        for label in layer.fit.labels:
            on = [(letter, layer.layer.qubits[len(label) - 1 - i]) for i, letter in enumerate(label) if letter != "I"]
            on = on[::-1]  # from the last letter (qubits[0]) on
            pauli = QubitSparsePauli.from_sparse_label(("".join(c for c, _ in on), [q for _, q in on]), num_qubits)
            generators.append(QubitSparsePauliList.from_qubit_sparse_paulis([pauli]))
        metadata = {
            "learning_protocol": "pauli_lindblad",
            "qubits": list(layer.layer.qubits),
            "circuits": layer.circuits,
            "shots": layer.shots,
        }
        data.append(NoiseLearnerV3Result.from_generators(generators, layer.fit.rates, layer.fit.rates_std, metadata))
    return NoiseLearnerV3Results(data, metadata={"backend": "qrt_runner simulator"})


def layer_model(instruction: Any, pauli_lindblad_map: Any, num_qubits: int) -> tuple[LayerKey, PauliLindblad]:
    """A layer and its ``PauliLindbladMap`` (IBM's result, or one assigned to
    ``resilience.layer_noise_model``) as qrt_runner's layer key and model (on the map's qubits)."""
    key = layer_key(instruction, num_qubits)
    terms = list(pauli_lindblad_map.to_sparse_list())
    qubits = tuple(sorted({q for _, a, b in key for q in (a, b)} | {q for _, on, _ in terms for q in on}))
    position = {q: i for i, q in enumerate(qubits)}
    labels, rates = [], []
    for letters, on, rate in terms:
        label = ["I"] * len(qubits)
        for letter, qubit in zip(letters, on):
            label[len(qubits) - 1 - position[qubit]] = letter
        labels.append("".join(label))
        rates.append(float(rate))
    return key, PauliLindblad(qubits, tuple(labels), tuple(rates))


class NoiseLearner(_LocalLearner):
    """IBM's V2 ``NoiseLearner``: ``run(circuits)`` (or estimator PUBs) learns the unique layers
    of the circuits (``twirling_strategy``; at most ``max_layers_to_learn``, the most frequent
    first, then those with more gates) and returns IBM's ``NoiseLearnerResult``."""

    def __init__(self, mode: Any = None, options: Any = None) -> None:
        super().__init__(mode)
        self._ibm = _is_ibm(mode)
        if self._ibm:
            from qiskit_ibm_runtime.noise_learner import NoiseLearner as IbmNoiseLearner

            self._delegate = IbmNoiseLearner(mode, options)
        self._options = _v2_options(options)

    @property
    def options(self) -> Any:
        return self._delegate.options if self._ibm else self._options

    def run(self, circuits: Iterable[Any], dry_run: bool = False) -> Any:
        if self._ibm:
            return self._delegate.run(circuits, dry_run=dry_run)
        from qiskit.primitives.containers import EstimatorPub
        from qiskit.quantum_info import PauliList
        from qiskit_ibm_runtime.results import LayerError, NoiseLearnerResult, PauliLindbladError

        o = self._options
        if not is_unset(o.experimental) and o.experimental:
            raise ConfigError(
                "options.experimental", o.experimental, "is not simulated by qrt_runner", "leave it unset"
            )
        pick = lambda value, default: default if is_unset(value) else value  # noqa: E731
        strategy = pick(o.twirling_strategy, "active-accum")
        counts: Counter = Counter()
        for item in circuits:
            circuit = item if isinstance(item, QuantumCircuit) else EstimatorPub.coerce(item).circuit
            for layer in twirl_layers(twirl_template(circuit, strategy)):
                counts[tuple(sorted(layer.gates))] += 1
        order = sorted(counts, key=lambda k: (-counts[k], -len(k)))
        limit = pick(o.max_layers_to_learn, 4)
        keys = order if limit is None else order[:limit]
        learning = LearningOptions(
            tuple(pick(o.layer_pair_depths, (0, 1, 2, 4, 16, 32))),
            pick(o.num_randomizations, 32),
            pick(o.shots_per_randomization, 128),
            None,
        )
        found, wall = self._learn(keys, learning, o.simulator.seed_simulator)
        data = []
        for result in found:
            circuit = QuantumCircuit(len(result.layer.qubits))
            for name, a, b in result.layer.compact_gates():
                circuit.append(standard_gate(name), [a, b])
            error = PauliLindbladError(PauliList(list(result.fit.labels)), list(result.fit.rates))
            data.append(LayerError(circuit, list(result.layer.qubits), error))
        metadata = {"backend": "qrt_runner simulator", "input_options": {"twirling_strategy": strategy}}
        return NoiseLearnerJob(NoiseLearnerResult(data, metadata), wall, getattr(self.mode, "session_id", None))


def _v2_options(options: Any) -> Any:
    """IBM's ``NoiseLearnerOptions`` from one, a dict, or IBM's ``EstimatorOptions`` (its
    ``resilience.layer_noise_learning`` and ``twirling.strategy``, as IBM's learner reads them)."""
    from dataclasses import asdict

    from qiskit_ibm_runtime.options import EstimatorOptions, NoiseLearnerOptions

    if options is None:
        return NoiseLearnerOptions()
    if isinstance(options, NoiseLearnerOptions):
        return options
    if isinstance(options, EstimatorOptions):
        learning = {k: v for k, v in asdict(options.resilience.layer_noise_learning).items() if not is_unset(v)}
        return NoiseLearnerOptions(**learning, twirling_strategy=options.twirling.strategy)
    return NoiseLearnerOptions(**options)
