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
from qiskit.primitives.containers import SamplerPub, SamplerPubLike

from qrt_runner.execution.backend import LocalBackend
from qrt_runner.execution.cost import job_cost
from qrt_runner.execution.modes import ExecutionMode, LocalJob, Planned
from qrt_runner.execution.simulation.task import SimTask
from qrt_runner.execution.transpile import IsaCircuit
from qrt_runner.mitigation.options import EffectiveMitigation
from qrt_runner.mitigation.technique import CIRCUITS, BuildContext, DeviceInfo, check_dynamic_circuit
from qrt_runner.mitigation.techniques import sampler_pipeline
from qrt_runner.mitigation.techniques.measure_twirling import SampledMeasureTwirling
from qrt_runner.mitigation.techniques.readout import ReadoutMitigation


@dataclass
class SamplerOptions:
    """Leaf names as in ``qiskit_ibm_runtime.options_models.SamplerOptions``."""

    default_shots: int = 4096
    max_execution_time: float = 10800.0
    mitigation: EffectiveMitigation | None = None


def _int_counts(result: SamplerPubResult) -> list[dict[int, int]]:
    """Integer outcome counts of every parameter set of ``result`` (all registers joined)."""
    joined = result.join_data()
    return [
        joined[index].get_int_counts() if joined.shape else joined.get_int_counts()
        for index in np.ndindex(joined.shape)
    ]


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
    """The circuit of one PUB (decoupled, gate- and measurement-twirled as asked: the techniques of
    :func:`~qrt_runner.mitigation.techniques.sampler_pipeline`), its parameter rows (set-major,
    then randomisation) and how to turn the sampled rows into one PUB result."""

    def __init__(
        self, pub: SamplerPub, isa: IsaCircuit, backend: LocalBackend, mitigation: EffectiveMitigation | None, seed: int
    ):
        self.pub, self.isa = pub, isa
        mit = self.mitigation = mitigation if mitigation is not None and mitigation.active else None
        self.techniques = sampler_pipeline(mit)
        check_dynamic_circuit(self.techniques, isa.circuit)
        dd = mit.dynamical_decoupling if mit is not None else None
        self.dd_sequence = dd.sequence_type if dd is not None and dd.enable else None
        self.twirl_gates = bool(mit and mit.twirling.enable_gates)
        self.twirl_measure = bool(mit and mit.twirling.enable_measure)
        randomized = any(t.randomizes for t in self.techniques)
        self.randomizations = mit.twirling.num_randomizations if mit is not None and randomized else 1
        self.shots_per_randomization = (
            (mit.twirling.shots_per_randomization or math.ceil(pub.shots / self.randomizations))
            if mit is not None and randomized
            else pub.shots
        )
        device = backend.device_info(isa.physical_qubits)
        self.key = f"{isa.fingerprint}|sampler" + "".join(f"|{t.signature(device)}" for t in self.techniques)
        cached: QuantumCircuit | None = backend.measurement_circuits.get(self.key)
        if cached is None:
            cached = backend.measurement_circuits[self.key] = self._build(device)
        self.circuit = cached
        if randomized and self.circuit.num_parameters == isa.circuit.num_parameters:  # nothing to twirl
            self.randomizations, self.shots_per_randomization = 1, self.randomizations * self.shots_per_randomization
        rng = np.random.default_rng([seed, 11])
        for technique in self.techniques:  # the measurement flips, then the gate twirl's Paulis
            technique.draw(rng, self.randomizations, self.circuit)
        self.columns: dict[str, np.ndarray] = {}
        for technique in self.techniques:
            self.columns.update(technique.columns(self.circuit, self.randomizations, rng))

    def _build(self, device: DeviceInfo) -> QuantumCircuit:
        templates = [self.isa.circuit]
        context = BuildContext(device, self.isa.circuit.num_qubits)
        for technique in self.techniques:
            templates = technique.transform(templates, context)
        (circuit,) = templates
        return circuit

    def values(self) -> np.ndarray | None:
        """Rows (parameter set, randomisation) in ``self.circuit.parameters`` order."""
        user = self.isa.parameter_values(self.pub.parameter_values, self.pub.circuit)
        sets = int(np.prod(self.pub.parameter_values.shape)) if self.pub.parameter_values.shape else 1
        user = user.reshape(sets, -1)
        repeats = self.randomizations
        columns = {p.name: np.repeat(user[:, i], repeats) for i, p in enumerate(self.isa.circuit.parameters)}
        for name, column in self.columns.items():
            columns[name] = np.tile(column, sets)
        names = [p.name for p in self.circuit.parameters]
        if not names:  # one row per set and randomisation all the same: the simulator samples each
            return np.zeros((repeats * sets, 0))
        return np.stack([columns[name] for name in names], axis=1)

    def task(self, backend: LocalBackend, seed: int) -> SimTask:
        return SimTask(
            kind="memory",
            device=backend.noise_device,
            noise=backend.noise,
            qubits=self.isa.physical_qubits,
            method=backend.method_for(self.isa, self.shots_per_randomization),
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
            for technique in self.techniques:
                chunk = technique.unflip(chunk)
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
                "simulate_s_by_technique": {CIRCUITS: float(sum(seconds))},
            }
        result = _combine(self.pub, self.isa, per_set, metadata)
        if self.mitigation is not None:
            result.metadata["mitigation"]["combine_s"] = time.perf_counter() - started
        return result

    def flip_fraction(self) -> np.ndarray | None:
        """Per classical bit, the fraction of shots read with a flip (None without measurement twirling)."""
        twirls = [t for t in self.techniques if isinstance(t, SampledMeasureTwirling)]
        return twirls[0].flip_fraction() if twirls else None


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
        if shots is None:
            shots = self.options.default_shots
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

        readout = ReadoutMitigation.from_options(mitigation)
        if readout is not None:
            for isa in isas:
                tasks.append(
                    SimTask(
                        kind="counts",
                        device=tasks[0].device,
                        noise=tasks[0].noise,
                        qubits=isa.physical_qubits,
                        method=self.backend.method_for(isa, readout.shots_per_circuit),  # Clifford: fits where isa does
                        threads=self.backend.threads,
                        seed=seed,
                        shots=readout.shots_per_circuit,
                        circuits=readout.circuits_for(isa.circuit),
                        parameter_values=[None, None],
                        circuit_keys=[f"{isa.fingerprint}|readout0", f"{isa.fingerprint}|readout1"],
                    )
                )
                roles.append([readout.name] * 2)

        def postprocess(outputs):
            results = [plan.combine(output[0], getattr(output, "seconds", ())) for plan, output in zip(plans, outputs)]
            if readout is not None:
                for result, plan, calibration in zip(results, plans, outputs[len(plans) :]):
                    started = time.perf_counter()
                    quasi, matrices = readout.quasi_dists(
                        _int_counts(result), plan.isa.circuit, calibration, plan.flip_fraction()
                    )
                    readout.apply(result.metadata, quasi, matrices, float(sum(getattr(calibration, "seconds", []))))
                    result.metadata["mitigation"]["combine_s"] += time.perf_counter() - started
            return PrimitiveResult(results, metadata={"version": 2, "seed_simulator": seed})

        multipliers = {"shots": coerced[0].shots if coerced else shots}
        if plans and plans[0].mitigation is not None:
            multipliers.update(
                randomizations=plans[0].randomizations, shots_per_randomization=plans[0].shots_per_randomization
            )
        if readout is not None:
            multipliers["readout_calibration_shots"] = readout.calibration_shots()
        return Planned(tasks, postprocess, job_cost(tasks, roles, self.backend.device), multipliers)
