"""A local Sampler (``BaseSamplerV2``): per-shot outcomes of every classical register."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from qiskit.primitives import BaseSamplerV2, BitArray, DataBin, PrimitiveResult, SamplerPubResult
from qiskit.primitives.containers.sampler_pub import SamplerPub, SamplerPubLike

from qrt_runner.backend import LocalBackend
from qrt_runner.modes import ExecutionMode, LocalJob
from qrt_runner.simulation.task import SimTask
from qrt_runner.transpile import IsaCircuit


@dataclass
class SamplerOptions:
    """Leaf names as in ``qiskit_ibm_runtime.options_models.SamplerOptions``."""

    default_shots: int = 4096
    max_execution_time: float = 10800.0


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

        def postprocess(outputs):
            results = [_combine(pub, isa, output[0]) for pub, isa, output in zip(coerced, isas, outputs)]
            return PrimitiveResult(results, metadata={"version": 2, "seed_simulator": seed})

        return self.mode.submit(tasks, postprocess, self.options.max_execution_time)
