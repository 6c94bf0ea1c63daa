"""Local backends: the ideal Aer simulator, or a fake IBM device whose noise Aer simulates."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

from qiskit import QuantumCircuit
from qiskit.providers import BackendV2
from qiskit.transpiler import Target

from qrt_runner.execution.device_info import DeviceInfo
from qrt_runner.execution.devices import device as fake_device
from qrt_runner.execution.method_choice import MethodChoice, choose_method
from qrt_runner.execution.plugins import preset_pass_manager
from qrt_runner.execution.simulation.executor import ProcessExecutor, default_executor
from qrt_runner.execution.transpile import IsaCircuit, IsaCompiler


@lru_cache(maxsize=8)
def ideal_target_backend(method: str):
    """The ideal simulator (what ``primitive.backend()`` returns for ``backend=aer``)."""
    from qiskit_aer import AerSimulator

    return AerSimulator(method=method)


@dataclass(frozen=True, eq=False)
class IdealTarget:
    """What circuits for the ideal simulator are transpiled to: its instructions, at any width.

    ``AerSimulator().target`` is only as wide as a statevector that fits in memory (30 qubits on
    16 GiB), which refuses a 40-qubit GHZ that the stabilizer method samples in a second; the
    method that runs is chosen after transpilation (:mod:`~qrt_runner.execution.method_choice`).
    """

    target: Target
    name: str = "aer"


@lru_cache(maxsize=8)
def ideal_compile_target(method: str) -> IdealTarget:
    """The ideal simulator's instruction set for ``method``, without a width limit."""
    source = ideal_target_backend(method).target
    wide = Target(num_qubits=None, description=f"aer {method}, any width")
    for name in source.operation_names:
        operation = source.operation_from_name(name)
        properties = source[name]
        wide.add_instruction(operation, None if properties is None or None in properties else {None: None}, name=name)
    return IdealTarget(wide)


@dataclass
class LocalBackend:
    """What the local primitives run on.

    Attributes:
        name: ``aer`` or a fake device name such as ``fake_manila``.
        device: the fake device (its target and noise), None for the ideal simulator.
        method: Aer simulation method.
        threads: Aer threads (0 = all cores).
        seed_simulator: seed of the first job; job ``i`` uses ``seed_simulator + i`` (each of its Aer
            calls gets a hash of that, ``simulation.aer_simulator.aer_seed``).
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
    noise: str = "device"
    method_choices: dict = field(default_factory=dict)

    @property
    def noisy(self) -> bool:
        """Whether circuits run under noise (a device's, in full or Pauli form)."""
        return self.device is not None and self.noise != "none"

    @property
    def noise_device(self) -> str | None:
        """The device whose noise the simulator applies (None: ideal)."""
        return self.name if self.noisy else None

    def method_for(self, isa: IsaCircuit, shots: int) -> str:
        """The Aer method the simulator is told for ``isa`` at ``shots`` (0: exact values),
        chosen once (:func:`~qrt_runner.execution.method_choice.choose_method`; raises
        CapacityError where none fits)."""
        return self.method_choice(isa, shots).method

    def method_choice(self, isa: IsaCircuit, shots: int) -> MethodChoice:
        """The method choice for ``isa`` at ``shots``, with its reason and estimates."""
        key = (isa.fingerprint or id(isa.circuit), shots)
        choice = self.method_choices.get(key)
        if choice is None:
            noise = self.noise if self.device is not None else "none"
            choice = self.method_choices[key] = choose_method(self.method, isa.circuit, noise, shots)
        return choice

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
        noise: str = "device",
    ) -> LocalBackend:
        """Build a backend by name (``aer`` or ``fake_<device>``); ``noise``: the device's
        ``device`` model, its ``pauli`` form, or ``none`` (ideal, on the device's layout)."""
        device = None if name == "aer" else fake_device(name)
        target_backend = device if device is not None else ideal_compile_target(method)
        compiler = shared_compiler(target_backend, optimization_level, seed_transpiler, initial_layout)
        return cls(name, device, method, threads, seed_simulator, compiler, executor or default_executor(), noise=noise)

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
            self.noise,
        )

    def basis_change(self, letter: str) -> QuantumCircuit:
        """A 1-qubit ISA circuit rotating the ``letter`` (X or Y) eigenbasis onto Z."""
        return _basis_change(self.device, letter)


@lru_cache(maxsize=32)
def shared_compiler(
    target_backend: BackendV2 | IdealTarget,
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
    return preset_pass_manager(optimization_level=1, basis_gates=single_qubit).run(circuit)
