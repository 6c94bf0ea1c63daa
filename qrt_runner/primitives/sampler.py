"""A local Sampler (``BaseSamplerV2``): per-shot outcomes of every classical register, and with
``measure_mitigation`` readout-mitigated quasi-probabilities (``metadata["quasi_dists"]``)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from qiskit.primitives import BaseSamplerV2, BitArray, DataBin, PrimitiveResult, SamplerPubResult
from qiskit.primitives.containers.sampler_pub import SamplerPub, SamplerPubLike

from qiskit import QuantumCircuit

from qrt_runner.backend import LocalBackend
from qrt_runner.mitigation.options import EffectiveMitigation
from qrt_runner.mitigation.readout import confusion_matrices, mitigate
from qrt_runner.modes import ExecutionMode, LocalJob
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
    pairs = [(circuit.find_bit(i.qubits[0]).index, circuit.find_bit(i.clbits[0]).index)
             for i in circuit.data if i.operation.name == "measure"]
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


def _quasi_dists(result: SamplerPubResult, isa: IsaCircuit, calibration: list) -> tuple[list[dict], list]:
    """Readout-mitigated quasi-probabilities per parameter set, and the calibrated (p01, p10)."""
    positions = [clbit for _, clbit in _final_measurements(isa.circuit)]
    matrices = confusion_matrices(calibration[0][0], calibration[1][0], positions)
    joined = result.join_data()
    width = isa.circuit.num_clbits
    dists = []
    for index in np.ndindex(joined.shape):
        counts = joined[index].get_int_counts() if joined.shape else joined.get_int_counts()
        outcomes = np.fromiter(counts.keys(), dtype=np.int64, count=len(counts))
        values = np.fromiter(counts.values(), dtype=float, count=len(counts))
        outcomes, quasi = mitigate(outcomes, values, matrices, positions)
        dists.append({format(int(o), f"0{width}b"): float(q) for o, q in zip(outcomes, quasi)})
    return dists, [[float(m[1, 0]), float(m[0, 1])] for m in matrices]


def _combine(pub: SamplerPub, isa: IsaCircuit, rows: list[list[str]]) -> SamplerPubResult:
    circuit = isa.circuit
    num_clbits = circuit.num_clbits
    shape = pub.parameter_values.shape
    full = [BitArray(packed, num_clbits) for packed in rows]
    registers = {}
    for creg in circuit.cregs:
        indices = [circuit.find_bit(bit).index for bit in creg]
        arrays = np.stack([bits.slice_bits(indices).array for bits in full])
        registers[creg.name] = BitArray(arrays.reshape(shape + arrays.shape[1:]), len(indices))
    return SamplerPubResult(
        DataBin(**registers, shape=shape), metadata={"shots": pub.shots, "circuit_metadata": pub.circuit.metadata}
    )


class Sampler(BaseSamplerV2):
    """Qiskit's V2 Sampler on a :class:`LocalBackend`, run as jobs of an execution mode."""

    def __init__(self, backend: LocalBackend, mode: ExecutionMode | None = None, options: SamplerOptions | None = None):
        self.backend = backend
        self.mode = mode or ExecutionMode("job", backend.executor)
        self.options = options or SamplerOptions()

    def run(self, pubs: Iterable[SamplerPubLike], *, shots: int | None = None) -> LocalJob:
        shots = shots or self.options.default_shots
        coerced = [SamplerPub.coerce(pub, shots) for pub in pubs]
        for pub in coerced:
            if pub.circuit.num_clbits == 0:
                raise ValueError("the sampler needs measurements: the circuit has no classical bits")
        isas = [self.backend.compiler.compile(pub.circuit) for pub in coerced]
        seed = self.backend.next_seed()
        tasks = []
        for pub, isa in zip(coerced, isas):
            values = pub.parameter_values.as_array([p.name for p in isa.circuit.parameters])
            tasks.append(
                SimTask(
                    kind="memory",
                    device=self.backend.name if self.backend.device is not None else None,
                    qubits=isa.physical_qubits,
                    method=self.backend.method,
                    threads=self.backend.threads,
                    seed=seed,
                    shots=pub.shots,
                    circuits=[isa.circuit],
                    parameter_values=[values.reshape(-1, values.shape[-1]) if values.size else None],
                    circuit_keys=[f"{isa.fingerprint}|sampler"],
                )
            )

        mitigate_readout = self.options.mitigation is not None and self.options.mitigation.measure_mitigation
        if mitigate_readout:
            calibration_shots = (self.options.mitigation.measure_noise_learning_num_randomizations
                                 * self.options.mitigation.measure_noise_learning_shots_per_randomization)
            for isa in isas:
                tasks.append(SimTask(
                    kind="counts", device=tasks[0].device, qubits=isa.physical_qubits, method=self.backend.method,
                    threads=self.backend.threads, seed=seed, shots=calibration_shots,
                    circuits=_calibration_circuits(isa), parameter_values=[None, None],
                    circuit_keys=[f"{isa.fingerprint}|readout0", f"{isa.fingerprint}|readout1"],
                ))

        def postprocess(outputs):
            results = [_combine(pub, isa, output[0]) for pub, isa, output in zip(coerced, isas, outputs)]
            if mitigate_readout:
                for result, isa, calibration in zip(results, isas, outputs[len(isas):]):
                    result.metadata["quasi_dists"], result.metadata["readout_calibration"] = _quasi_dists(result, isa, calibration)
            return PrimitiveResult(results, metadata={"version": 2, "seed_simulator": seed})

        return self.mode.submit(tasks, postprocess, self.options.max_execution_time)
