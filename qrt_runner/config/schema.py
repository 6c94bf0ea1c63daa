"""Structured-config schemas for every config group: plain dataclasses, importable without Hydra.

They give the key names and types of the config contract. :mod:`qrt_runner.config.registration`
registers them in Hydra's ConfigStore (with the interpolations that derive every seed from the
root ``seed``), so that an unknown key or a value of the wrong type is refused at composition
time. Each field's type also declares its range or allowed values
(:mod:`qrt_runner.config.constraints`: checked by Pydantic, and stated in ``qrt-run schema``'s JSON
Schema; the allowed values are named in :mod:`qrt_runner.config.allowed`). The mitigation group's
schema is :mod:`qrt_runner.config.mitigation_schema`. What involves several fields or groups is
checked by :mod:`qrt_runner.config.consistency`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Annotated, Any, Dict, List, Optional, Tuple

from pydantic import Field

from qrt_runner.config.allowed import (
    ENTANGLEMENTS,
    INITIAL_POINTS,
    MAX_QUBITS,
    MAX_THREADS,
    MAX_TIMEOUT_S,
    METHODS,
    NOISE_FORMS,
    OPTIMIZERS,
    PARAMETER_KINDS,
    SESSION_MODES,
)
from qrt_runner.config.constraints import (
    Count,
    Finite,
    Hint,
    NonNegative,
    NonNegativeFloat,
    OneOf,
    Positive,
    Seconds,
    Seed,
)

TWO_PI = 2 * math.pi

Qubits = Annotated[
    int,
    Field(ge=1, le=MAX_QUBITS),
    Hint(
        above=f"is more than any device or simulator method runs (at most {MAX_QUBITS:,} qubits are built)",
        fix_above="use fewer qubits",
    ),
]
Entanglement = Annotated[str, OneOf(*ENTANGLEMENTS)]


@dataclass
class ParameterValuesConfig:
    """How parameter values are produced for a parametrised circuit.

    ``kind``: ``one`` (``values`` is one list), ``list`` (``values`` is a list of lists),
    ``grid`` (``grid`` maps parameter names, or their positions 0, 1, ..., to
    ``[start, stop, num]``; the other parameters take ``fill``),
    ``random`` (``num_sets`` uniform draws in ``[low, high)`` seeded by ``seed``).
    """

    kind: Annotated[str, OneOf(*PARAMETER_KINDS)] = "random"
    values: Optional[List[Any]] = None
    grid: Dict[Any, Any] = field(default_factory=dict)
    fill: Finite = 0.0
    num_sets: Count = 1
    low: Finite = 0.0
    high: Finite = TWO_PI
    seed: Seed = 1234


@dataclass
class CircuitConfig:
    name: str = "???"
    parameter_values: ParameterValuesConfig = field(default_factory=ParameterValuesConfig)


@dataclass
class GhzCircuit(CircuitConfig):
    name: str = "ghz"
    num_qubits: Qubits = 3


@dataclass
class EfficientSU2Circuit(CircuitConfig):
    name: str = "efficient_su2"
    num_qubits: Qubits = 4
    reps: Count = 2
    entanglement: Entanglement = "reverse_linear"


@dataclass
class RealAmplitudesCircuit(CircuitConfig):
    name: str = "real_amplitudes"
    num_qubits: Qubits = 4
    reps: Count = 2
    entanglement: Entanglement = "reverse_linear"


@dataclass
class QftCircuit(CircuitConfig):
    name: str = "qft"
    num_qubits: Qubits = 4
    inverse: bool = False
    initial_state: str = ""


@dataclass
class QaoaCircuit(CircuitConfig):
    name: str = "qaoa"
    num_qubits: Qubits = 4
    edges: List[Any] = field(default_factory=lambda: [[0, 1, 1.0], [1, 2, 1.0], [2, 3, 1.0], [3, 0, 1.0]])
    reps: Count = 1


@dataclass
class RandomCircuit(CircuitConfig):
    name: str = "random"
    num_qubits: Qubits = 4
    depth: Count = 4
    max_operands: Annotated[int, Field(ge=1, le=4)] = 2
    seed: Seed = 1234


@dataclass
class KickedIsingCircuit(CircuitConfig):
    name: str = "kicked_ising"
    num_qubits: Qubits = 20
    steps: int = 5
    theta: Finite = 0.0
    # The device whose coupling graph the circuit follows (it runs there on the patch it was cut from).
    device: str = "fake_sherbrooke"
    # Physical-qubit edges [[a, b], ...] of another coupling graph; empty: the device's.
    coupling: List[Any] = field(default_factory=list)


@dataclass
class QasmCircuit(CircuitConfig):
    name: str = "qasm"
    path: str = "???"


@dataclass
class QpyCircuit(CircuitConfig):
    name: str = "qpy"
    path: str = "???"
    index: int = 0


@dataclass
class FactoryCircuit(CircuitConfig):
    name: str = "factory"
    target: str = "???"
    kwargs: Dict[str, Any] = field(default_factory=dict)


@dataclass
class ObservablesConfig:
    name: str = "???"


@dataclass
class NoObservables(ObservablesConfig):
    name: str = "none"


@dataclass
class PauliObservables(ObservablesConfig):
    name: str = "paulis"
    terms: List[str] = field(default_factory=list)


@dataclass
class IsingObservables(ObservablesConfig):
    name: str = "ising"
    num_qubits: int = 4
    j: float = 1.0
    h: float = 1.0
    periodic: bool = False


@dataclass
class HeisenbergObservables(ObservablesConfig):
    name: str = "heisenberg"
    num_qubits: int = 4
    jx: float = 1.0
    jy: float = 1.0
    jz: float = 1.0
    h: float = 0.0
    periodic: bool = False


@dataclass
class KickedIsingObservables(ObservablesConfig):
    name: str = "kicked_ising"
    num_qubits: int = 20
    weight: int = 10
    device: str = "fake_sherbrooke"
    coupling: List[Any] = field(default_factory=list)


@dataclass
class H2Observables(ObservablesConfig):
    name: str = "h2"
    bond_length: float = 0.735


@dataclass
class PrimitiveConfig:
    name: str = "???"
    default_shots: Optional[Count] = None
    max_execution_time: Seconds = 10800.0


@dataclass
class EstimatorConfig(PrimitiveConfig):
    name: str = "estimator"
    default_precision: Annotated[
        NonNegativeFloat, Hint(fix="set a target standard error such as 0.015625 (0 = exact, ideal aer only)")
    ] = 0.015625


@dataclass
class SamplerConfig(PrimitiveConfig):
    name: str = "sampler"
    default_shots: Optional[Count] = 4096


@dataclass
class BackendConfig:
    name: str = "aer"
    method: Annotated[str, OneOf(*METHODS)] = "automatic"
    noise: Annotated[str, OneOf(*NOISE_FORMS)] = "device"
    max_parallel_threads: Annotated[
        int, Field(ge=0, le=MAX_THREADS), Hint(fix="set 0 (all cores) or a thread count")
    ] = 0
    seed_simulator: Seed = 1234

    @property
    def local(self) -> bool:
        """Its jobs run in the local simulator (emulated modes, local mitigation)."""
        return True

    @property
    def has_device(self) -> bool:
        """It has a device: instruction durations, a coupling map and its noise (a fake device)."""
        return self.name != "aer"


@dataclass
class IbmBackendConfig:
    name: str = "ibm"
    device: Optional[str] = None
    channel: Optional[str] = None
    instance: Optional[str] = None

    @property
    def local(self) -> bool:
        """Its jobs go to IBM Quantum (or IBM's local testing mode), not qrt_runner's simulator."""
        return False

    @property
    def has_device(self) -> bool:
        return True


@dataclass
class TranspileConfig:
    optimization_level: Annotated[int, OneOf(0, 1, 2, 3)] = 2
    seed_transpiler: Seed = 1234
    initial_layout: Optional[List[int]] = None

    @property
    def layout(self) -> Optional[Tuple[int, ...]]:
        """``initial_layout`` as a tuple (hashable: the compilers are shared per layout)."""
        return tuple(self.initial_layout) if self.initial_layout is not None else None


@dataclass
class SessionConfig:
    mode: Annotated[str, OneOf(*SESSION_MODES)] = "job"
    max_time: Annotated[Seconds, Hint(fix="set the session's time limit in seconds")] = 28800.0
    parameter_sets_per_job: Annotated[
        NonNegative, Hint(fix="set 0 (one job) or the number of parameter sets per job")
    ] = 0
    interactive_ttl: Optional[
        Annotated[
            Seconds,
            Hint(fix="set the seconds without a queued job after which a session pauses, or null for never"),
        ]
    ] = 60.0


@dataclass
class TrackingConfig:
    enabled: bool = True
    uri: str = "sqlite:///mlflow.db"
    experiment_name: str = "qrt_runner"
    run_name: Optional[str] = None
    timeout_s: Annotated[
        float,
        Field(gt=0, le=MAX_TIMEOUT_S, allow_inf_nan=False),
        Hint(unit="seconds", why="a day", fix="set a time limit for each call to the store, e.g. 10"),
    ] = 10.0


@dataclass
class OptimizerConfig:
    """``name``: cobyla, nelder-mead, powell (SciPy), l-bfgs-b (SciPy, parameter-shift gradients),
    spsa or adam (parameter-shift gradients). ``learning_rate`` is SPSA's ``a`` and Adam's step;
    ``perturbation`` is SPSA's ``c``."""

    name: Annotated[str, OneOf(*OPTIMIZERS)] = "cobyla"
    maxiter: Count = 100
    tol: Positive = 1e-6
    learning_rate: Positive = 0.1
    perturbation: Positive = 0.1
    seed: Seed = 1234


@dataclass
class InitialPointConfig:
    """``kind``: zeros, random (uniform in [low, high) with ``seed``) or list (``values``)."""

    kind: Annotated[str, OneOf(*INITIAL_POINTS)] = "random"
    values: Optional[List[Any]] = None
    low: Finite = -0.1
    high: Finite = 0.1
    seed: Seed = 1234


@dataclass
class TaskConfig:
    name: str = "evaluate"


@dataclass
class EvaluateTask(TaskConfig):
    name: str = "evaluate"


@dataclass
class ScanTask(TaskConfig):
    name: str = "scan"


@dataclass
class VqeTask(TaskConfig):
    name: str = "vqe"
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    initial_point: InitialPointConfig = field(default_factory=InitialPointConfig)
    resume_from: Optional[str] = None


@dataclass
class QaoaTask(VqeTask):
    name: str = "qaoa"
    final_shots: Count = 4096


@dataclass
class SweepConfig:
    """``resume``: a repeated sweep skips points whose identical config already finished."""

    resume: bool = True


#: The config groups, in the order a run's spec lists them.
GROUPS = ("circuit", "observables", "primitive", "backend", "transpile", "session", "mitigation", "tracking", "task")


@dataclass
class RootConfig:
    """The primary config's own keys; the groups are filled in by the defaults list."""

    seed: Seed = 1234
    objective: str = "auto"
    sweep: SweepConfig = field(default_factory=SweepConfig)
    circuit: Any = None
    observables: Any = None
    primitive: Any = None
    backend: Any = None
    transpile: Any = None
    session: Any = None
    mitigation: Any = None
    tracking: Any = None
    task: Any = None


TASK_SCHEMAS = {"evaluate": EvaluateTask, "scan": ScanTask, "vqe": VqeTask, "qaoa": QaoaTask}
