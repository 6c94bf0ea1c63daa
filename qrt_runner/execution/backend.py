"""Local backends: the ideal Aer simulator, or a fake IBM device whose noise Aer simulates."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

from qiskit import QuantumCircuit
from qiskit.providers import BackendV2
from qiskit.transpiler import generate_preset_pass_manager

from qrt_runner.execution.device_info import DeviceInfo
from qrt_runner.execution.fake_backends import fake_backend
from qrt_runner.execution.simulation.executor import ProcessExecutor, default_executor
from qrt_runner.execution.transpile import IsaCompiler


@lru_cache(maxsize=8)
def ideal_target_backend(method: str):
    from qiskit_aer import AerSimulator

    return AerSimulator(method=method)


@dataclass
class LocalBackend:
    """What the local primitives run on.

    Attributes:
        name: ``aer`` or a fake device name such as ``fake_manila``.
        device: the fake device (its target and noise), None for the ideal simulator.
        method: Aer simulation method.
        threads: Aer threads (0 = all cores).
        seed_simulator: seed of the first job; job ``i`` uses ``seed_simulator + i`` (each of its Aer
            calls gets a hash of that, ``simulation.task.aer_seed``).
        compiler: the cached ISA transpiler for this backend.
        measurement_circuits: the primitives' mitigation circuits per (ISA circuit, options), built once.
    """

    name: str
    device: BackendV2 | None
    method: str
    threads: int
    seed_simulator: int
    compiler: IsaCompiler
    executor: ProcessExecutor = field(default_factory=default_executor)
    jobs_submitted: int = 0
    measurement_circuits: dict = field(default_factory=dict)

    @classmethod
    def create(
        cls,
        name: str = "aer",
        *,
        method: str = "automatic",
        threads: int = 0,
        seed_simulator: int = 0,
        optimization_level: int = 2,
        seed_transpiler: int = 0,
        executor: ProcessExecutor | None = None,
        initial_layout: tuple[int, ...] | None = None,
    ) -> LocalBackend:
        """Build a backend by name (``aer`` or ``fake_<device>``)."""
        device = None if name == "aer" else fake_backend(name)
        target_backend = device if device is not None else ideal_target_backend(method)
        compiler = shared_compiler(target_backend, optimization_level, seed_transpiler, initial_layout)
        return cls(name, device, method, threads, seed_simulator, compiler, executor or default_executor())

    def next_seed(self) -> int:
        """The simulator seed of the next job."""
        seed = self.seed_simulator + self.jobs_submitted
        self.jobs_submitted += 1
        return seed

    def compact_target(self, physical_qubits: tuple[int, ...]):
        """The device target restricted to ``physical_qubits`` (compact numbering), for scheduling."""
        return _compact_target(self.device, physical_qubits)

    def device_info(self, physical_qubits: tuple[int, ...]) -> DeviceInfo:
        """What mitigation techniques may know of this backend, for a circuit on ``physical_qubits``."""
        device = self.device is not None
        return DeviceInfo(
            self.name,
            self.name if device else None,
            self.seed_simulator,
            physical_qubits,
            (lambda: self.compact_target(physical_qubits)) if device else None,
        )

    def basis_change(self, letter: str) -> QuantumCircuit:
        """A 1-qubit ISA circuit rotating the ``letter`` (X or Y) eigenbasis onto Z."""
        return _basis_change(self.device, letter)


@lru_cache(maxsize=32)
def shared_compiler(
    target_backend: BackendV2,
    optimization_level: int,
    seed_transpiler: int,
    initial_layout: tuple[int, ...] | None = None,
) -> IsaCompiler:
    """One compiler per (target, level, seed, layout) and process: its pass manager is built once
    (tens of milliseconds) and its transpiled circuits are reused by every run of a sweep that
    shares them."""
    return IsaCompiler(target_backend, optimization_level, seed_transpiler, initial_layout)


@lru_cache(maxsize=64)
def _compact_target(device: BackendV2, physical_qubits: tuple[int, ...]):
    from qrt_runner.execution.simulation.noise import sub_target

    return sub_target(device.target, physical_qubits)


@lru_cache(maxsize=64)
def _basis_change(device: BackendV2 | None, letter: str) -> QuantumCircuit:
    circuit = QuantumCircuit(1)
    if letter == "Y":
        circuit.sdg(0)
    circuit.h(0)
    if device is None:
        return circuit
    single_qubit = [name for name in device.operation_names if name in ("rz", "sx", "x", "u1", "u2", "u3", "u")]
    return generate_preset_pass_manager(optimization_level=1, basis_gates=single_qubit).run(circuit)
