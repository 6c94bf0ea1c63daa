"""A local Sampler (``BaseSamplerV2``): per-shot outcomes of every classical register, and with
``measure_mitigation`` readout-mitigated quasi-probabilities (``metadata["quasi_dists"]``) and,
unless ``nearest_probability`` is off, the nearest probability distribution to each of them
(``metadata["nearest_probability_dists"]``).

Suppression as IBM's Sampler options: dynamical decoupling (fake devices), Pauli twirling of
two-qubit gates and measurement twirling. Twirled PUBs run ``num_randomizations`` parameter
bindings of one template circuit, ``shots_per_randomization`` shots each (default
``ceil(shots / num_randomizations)``), in one simulator call; the measurement flips are undone
on the returned bits, which hold every shot of every randomisation.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from qiskit import QuantumCircuit
from qiskit.primitives import BaseSamplerV2, BitArray, DataBin, PrimitiveResult, SamplerPubResult
from qiskit.primitives.containers.sampler_pub import SamplerPub, SamplerPubLike

from qrt_runner.backend import LocalBackend
from qrt_runner.cost import job_cost
from qrt_runner.mitigation.decoupling import add_dynamical_decoupling
from qrt_runner.mitigation.measure_twirl import clbit_flips, flip_angles, twirl_measurements, twirled_confusion, unflip
from qrt_runner.mitigation.options import EffectiveMitigation
from qrt_runner.mitigation.projection import nearest_probability_dist
from qrt_runner.mitigation.readout import confusion_matrices, mitigate
from qrt_runner.mitigation.twirling import twirl_angles, twirl_template
from qrt_runner.modes import ExecutionMode, LocalJob, Planned
from qrt_runner.simulation.task import SimTask
from qrt_runner.transpile import IsaCircuit


@dataclass
class SamplerOptions:
    """Leaf names as in ``qiskit_ibm_runtime.options_models.SamplerOptions``."""

    default_shots: int = 4096
    max_execution_time: float = 10800.0
    mitigation: EffectiveMitigation | None = None


def _final_measurements(circuit) -> list[tuple[int, int]]:
    """(qubit, clbit) of each measurement; readout mitigation needs each clbit measured once."""
    pairs = [
        (circuit.find_bit(i.qubits[0]).index, circuit.find_bit(i.clbits[0]).index)
        for i in circuit.data
        if i.operation.name == "measure"
    ]
    if len({clbit for _, clbit in pairs}) != len(pairs):
        raise ValueError("readout mitigation needs every classical bit measured exactly once")
    return pairs


def _calibration_circuits(isa: IsaCircuit) -> list[QuantumCircuit]:
    """All measured qubits prepared in |0>, then in |1>, measured into the same clbits."""
    pairs = _final_measurements(isa.circuit)
    circuits = []
    for prepared in (0, 1):
        circuit = QuantumCircuit(isa.circuit.num_qubits, isa.circuit.num_clbits)
        for qubit, clbit in pairs:
            if prepared:
                circuit.x(qubit)
            circuit.measure(qubit, clbit)
        circuits.append(circuit)
    return circuits


def _quasi_dists(
    result: SamplerPubResult, isa: IsaCircuit, calibration: list, flip_fraction: np.ndarray | None = None
) -> tuple[list[dict], list]:
    """Readout-mitigated quasi-probabilities per parameter set, and the calibrated (p01, p10).

    With measurement twirling, ``flip_fraction[c]`` of the shots of bit ``c`` were read flipped,
    which mixes its calibrated confusion matrix with the flipped one (:func:`twirled_confusion`).
    """
    positions = [clbit for _, clbit in _final_measurements(isa.circuit)]
    calibrated = confusion_matrices(calibration[0][0], calibration[1][0], positions)
    matrices = calibrated if flip_fraction is None else twirled_confusion(calibrated, flip_fraction[positions])
    joined = result.join_data()
    width = isa.circuit.num_clbits
    dists = []
    for index in np.ndindex(joined.shape):
        counts = joined[index].get_int_counts() if joined.shape else joined.get_int_counts()
        outcomes = np.fromiter(counts.keys(), dtype=np.int64, count=len(counts))
        values = np.fromiter(counts.values(), dtype=float, count=len(counts))
        outcomes, quasi = mitigate(outcomes, values, matrices, positions)
        dists.append({format(int(o), f"0{width}b"): float(q) for o, q in zip(outcomes, quasi)})
    return dists, [[float(m[1, 0]), float(m[0, 1])] for m in calibrated]


def _combine(
    pub: SamplerPub, isa: IsaCircuit, rows: list[np.ndarray], metadata: dict | None = None
) -> SamplerPubResult:
    circuit = isa.circuit
    num_clbits = circuit.num_clbits
    shape = pub.parameter_values.shape
    full = [BitArray(packed, num_clbits) for packed in rows]
    registers = {}
    for creg in circuit.cregs:
        indices = [circuit.find_bit(bit).index for bit in creg]
        arrays = np.stack([bits.slice_bits(indices).array for bits in full])
        registers[creg.name] = BitArray(arrays.reshape(shape + arrays.shape[1:]), len(indices))
    shots = full[0].num_shots if full else pub.shots
    return SamplerPubResult(
        DataBin(**registers, shape=shape),
        metadata={"shots": shots, "circuit_metadata": pub.circuit.metadata, **(metadata or {})},
    )


class _SamplerPlan:
    """The circuit of one PUB (decoupled, gate- and measurement-twirled as asked), its parameter
    rows (set-major, then randomisation) and how to turn the sampled rows into one PUB result."""

    def __init__(
        self, pub: SamplerPub, isa: IsaCircuit, backend: LocalBackend, mitigation: EffectiveMitigation | None, seed: int
    ):
        self.pub, self.isa = pub, isa
        mit = self.mitigation = mitigation if mitigation is not None and mitigation.active else None
        self.dd = bool(mit and mit.dd_enable)
        self.dd_sequence = mit.dd_sequence_type if mit is not None and self.dd else None
        self.twirl_gates = bool(mit and mit.enable_gates)
        self.twirl_measure = bool(mit and mit.enable_measure)
        randomized = self.twirl_gates or self.twirl_measure
        self.randomizations = mit.num_randomizations if mit is not None and randomized else 1
        self.shots_per_randomization = (
            (mit.shots_per_randomization or math.ceil(pub.shots / self.randomizations))
            if mit is not None and randomized
            else pub.shots
        )
        signature = "sampler"
        if self.dd:
            assert mit is not None  # decoupling is a mitigation option
            if backend.device is None:
                raise ValueError(
                    "dynamical decoupling needs a device's instruction durations; the ideal simulator has none"
                )
            signature += f"|dd{mit.dd_sequence_type}{mit.dd_scheduling_method}{mit.dd_extra_slack_distribution}{mit.dd_skip_reset_qubits}"
        signature += f"|twirl{self.twirl_gates}{self.twirl_measure}{mit.strategy if mit is not None and self.twirl_gates else ''}"
        self.key = f"{isa.fingerprint}|{signature}"
        cached: tuple[QuantumCircuit, QuantumCircuit | None] | None = backend.measurement_circuits.get(self.key)
        if cached is None:
            cached = backend.measurement_circuits[self.key] = self._build(backend, mit)
        self.circuit, self.template = cached
        if randomized and self.circuit.num_parameters == isa.circuit.num_parameters:  # nothing to twirl
            self.randomizations, self.shots_per_randomization = 1, self.randomizations * self.shots_per_randomization
        rng = np.random.default_rng([seed, 11])
        num_measurements = len(self.circuit.metadata.get("qrt_mt_clbits", [])) if self.twirl_measure else 0
        self.flips = rng.integers(0, 2, size=(self.randomizations, num_measurements))
        self.gate_angles = twirl_angles(self.template, self.randomizations, rng) if self.twirl_gates else {}
        self.clbit_flips = (
            clbit_flips(self.circuit, self.flips)
            if self.twirl_measure
            else np.zeros((self.randomizations, isa.circuit.num_clbits), dtype=np.uint8)
        )

    def _build(
        self, backend: LocalBackend, mit: EffectiveMitigation | None
    ) -> tuple[QuantumCircuit, QuantumCircuit | None]:
        circuit = self.isa.circuit
        if self.dd:
            assert mit is not None  # decoupling is a mitigation option
            circuit = add_dynamical_decoupling(
                circuit,
                backend.compact_target(self.isa.physical_qubits),
                mit.dd_sequence_type,
                mit.dd_scheduling_method,
                mit.dd_extra_slack_distribution,
                mit.dd_skip_reset_qubits,
            )
        template: QuantumCircuit | None = None
        if self.twirl_gates:
            assert mit is not None  # twirling is a mitigation option
            circuit = template = twirl_template(circuit, mit.strategy)
        if self.twirl_measure:
            circuit = twirl_measurements(circuit)
        return circuit, template

    def values(self) -> np.ndarray | None:
        """Rows (parameter set, randomisation) in ``self.circuit.parameters`` order."""
        user = self.pub.parameter_values.as_array([p.name for p in self.isa.circuit.parameters])
        sets = int(np.prod(self.pub.parameter_values.shape)) if self.pub.parameter_values.shape else 1
        user = user.reshape(sets, -1)
        repeats = self.randomizations
        columns = {p.name: np.repeat(user[:, i], repeats) for i, p in enumerate(self.isa.circuit.parameters)}
        for name, column in {**flip_angles(self.flips), **self.gate_angles}.items():
            columns[name] = np.tile(column, sets)
        names = [p.name for p in self.circuit.parameters]
        if not names:
            return None
        return np.stack([columns[name] for name in names], axis=1)

    def task(self, backend: LocalBackend, seed: int) -> SimTask:
        return SimTask(
            kind="memory",
            device=backend.name if backend.device is not None else None,
            qubits=self.isa.physical_qubits,
            method=backend.method,
            threads=backend.threads,
            seed=seed,
            shots=self.shots_per_randomization,
            circuits=[self.circuit],
            parameter_values=[self.values()],
            circuit_keys=[self.key],
        )

    def combine(self, rows: list[np.ndarray], seconds=()) -> SamplerPubResult:
        """Per parameter set, the shots of all its randomisations with the measurement flips
        undone; ``seconds``: the simulator time of the task's circuits."""
        started = time.perf_counter()
        repeats = self.randomizations
        per_set = []
        for start in range(0, len(rows), repeats):
            chunk = rows[start : start + repeats]
            if self.twirl_measure:
                chunk = [unflip(packed, flips) for packed, flips in zip(chunk, self.clbit_flips)]
            per_set.append(np.concatenate(chunk, axis=0))
        metadata = {}
        if self.mitigation is not None:
            metadata["mitigation"] = {
                "num_circuits": 1,
                "num_randomizations": repeats,
                "shots_per_randomization": self.shots_per_randomization,
                "shots_spent": int(self.shots_per_randomization * repeats * len(per_set)),
                "twirling": {"enable_gates": self.twirl_gates, "enable_measure": self.twirl_measure},
                "dynamical_decoupling": self.dd_sequence,
                "simulate_s": float(sum(seconds)),
                "simulate_s_by_technique": {"circuits": float(sum(seconds))},
            }
        result = _combine(self.pub, self.isa, per_set, metadata)
        if self.mitigation is not None:
            result.metadata["mitigation"]["combine_s"] = time.perf_counter() - started
        return result

    def flip_fraction(self) -> np.ndarray | None:
        """Per classical bit, the fraction of shots read with a flip (None without measurement twirling)."""
        return self.clbit_flips.mean(axis=0) if self.twirl_measure else None


class Sampler(BaseSamplerV2):
    """Qiskit's V2 Sampler on a :class:`LocalBackend`, run as jobs of an execution mode."""

    def __init__(self, backend: LocalBackend, mode: ExecutionMode | None = None, options: SamplerOptions | None = None):
        self.backend = backend
        self.mode = mode or ExecutionMode("job", backend.executor)
        self.options = options or SamplerOptions()

    def run(self, pubs: Iterable[SamplerPubLike], *, shots: int | None = None) -> LocalJob:
        planned = self.plan(pubs, shots=shots, seed=self.backend.next_seed())
        return self.mode.submit(planned.tasks, planned.postprocess, self.options.max_execution_time, planned.cost)

    def plan(self, pubs: Iterable[SamplerPubLike], *, shots: int | None = None, seed: int | None = None) -> Planned:
        """The simulator tasks of a job on ``pubs``, how to combine their outputs, and the job's
        cost (circuits, shots, estimated QPU time), without running anything."""
        shots = shots or self.options.default_shots
        coerced = [SamplerPub.coerce(pub, shots) for pub in pubs]
        for pub in coerced:
            if pub.circuit.num_clbits == 0:
                raise ValueError("the sampler needs measurements: the circuit has no classical bits")
        isas = [self.backend.compiler.compile(pub.circuit) for pub in coerced]
        seed = self.backend.seed_simulator if seed is None else seed
        mitigation = self.options.mitigation
        plans = [_SamplerPlan(pub, isa, self.backend, mitigation, seed) for pub, isa in zip(coerced, isas)]
        tasks = [plan.task(self.backend, seed) for plan in plans]
        roles = [["circuits"] for _ in plans]

        mitigate_readout = mitigation is not None and mitigation.measure_mitigation
        if mitigate_readout:
            assert mitigation is not None  # implied by mitigate_readout
            calibration_shots = (
                mitigation.measure_noise_learning_num_randomizations
                * mitigation.measure_noise_learning_shots_per_randomization
            )
            for isa in isas:
                tasks.append(
                    SimTask(
                        kind="counts",
                        device=tasks[0].device,
                        qubits=isa.physical_qubits,
                        method=self.backend.method,
                        threads=self.backend.threads,
                        seed=seed,
                        shots=calibration_shots,
                        circuits=_calibration_circuits(isa),
                        parameter_values=[None, None],
                        circuit_keys=[f"{isa.fingerprint}|readout0", f"{isa.fingerprint}|readout1"],
                    )
                )
                roles.append(["readout_calibration"] * 2)

        def postprocess(outputs):
            results = [plan.combine(output[0], getattr(output, "seconds", ())) for plan, output in zip(plans, outputs)]
            if mitigate_readout:
                assert mitigation is not None  # implied by mitigate_readout
                for result, plan, calibration in zip(results, plans, outputs[len(plans) :]):
                    started = time.perf_counter()
                    quasi, result.metadata["readout_calibration"] = _quasi_dists(
                        result, plan.isa, calibration, plan.flip_fraction()
                    )
                    result.metadata["quasi_dists"] = quasi
                    if mitigation.nearest_probability:
                        result.metadata["nearest_probability_dists"] = [nearest_probability_dist(q) for q in quasi]
                    record = result.metadata["mitigation"]
                    record["num_circuits"] += 2
                    record["shots_spent"] += 2 * calibration_shots
                    seconds = float(sum(getattr(calibration, "seconds", [])))
                    record["simulate_s"] += seconds
                    record["simulate_s_by_technique"]["readout_calibration"] = seconds
                    record["combine_s"] += time.perf_counter() - started
            return PrimitiveResult(results, metadata={"version": 2, "seed_simulator": seed})

        multipliers = {"shots": coerced[0].shots if coerced else shots}
        if plans and plans[0].mitigation is not None:
            multipliers.update(
                randomizations=plans[0].randomizations, shots_per_randomization=plans[0].shots_per_randomization
            )
        if mitigate_readout:
            multipliers["readout_calibration_shots"] = 2 * calibration_shots
        return Planned(tasks, postprocess, job_cost(tasks, roles, self.backend.device), multipliers)
