"""Structured-config schemas for every config group: plain dataclasses, importable without Hydra.

They give the key names and types of the config contract. :mod:`qrt_runner.config.registration`
registers them in Hydra's ConfigStore (with the interpolations that derive every seed from the
root ``seed``), so that an unknown key or a value of the wrong type is refused at composition
time. Range checks and cross-group consistency are the job of :mod:`qrt_runner.config.spec`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

TWO_PI = 2 * math.pi


@dataclass
class ParameterValuesConfig:
    """How parameter values are produced for a parametrised circuit.

    ``kind``: ``one`` (``values`` is one list), ``list`` (``values`` is a list of lists),
    ``grid`` (``grid`` maps parameter names, or their positions 0, 1, ..., to
    ``[start, stop, num]``; the other parameters take ``fill``),
    ``random`` (``num_sets`` uniform draws in ``[low, high)`` seeded by ``seed``).
    """

    kind: str = "random"
    values: Optional[List[Any]] = None
    grid: Dict[Any, Any] = field(default_factory=dict)
    fill: float = 0.0
    num_sets: int = 1
    low: float = 0.0
    high: float = TWO_PI
    seed: int = 1234


@dataclass
class CircuitConfig:
    name: str = "???"
    parameter_values: ParameterValuesConfig = field(default_factory=ParameterValuesConfig)


@dataclass
class GhzCircuit(CircuitConfig):
    name: str = "ghz"
    num_qubits: int = 3


@dataclass
class EfficientSU2Circuit(CircuitConfig):
    name: str = "efficient_su2"
    num_qubits: int = 4
    reps: int = 2
    entanglement: str = "reverse_linear"


@dataclass
class RealAmplitudesCircuit(CircuitConfig):
    name: str = "real_amplitudes"
    num_qubits: int = 4
    reps: int = 2
    entanglement: str = "reverse_linear"


@dataclass
class QftCircuit(CircuitConfig):
    name: str = "qft"
    num_qubits: int = 4
    inverse: bool = False
    initial_state: str = ""


@dataclass
class QaoaCircuit(CircuitConfig):
    name: str = "qaoa"
    num_qubits: int = 4
    edges: List[Any] = field(default_factory=lambda: [[0, 1, 1.0], [1, 2, 1.0], [2, 3, 1.0], [3, 0, 1.0]])
    reps: int = 1


@dataclass
class RandomCircuit(CircuitConfig):
    name: str = "random"
    num_qubits: int = 4
    depth: int = 4
    max_operands: int = 2
    seed: int = 1234


@dataclass
class KickedIsingCircuit(CircuitConfig):
    name: str = "kicked_ising"
    num_qubits: int = 20
    steps: int = 5
    theta: float = 0.0
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
    default_shots: Optional[int] = None
    max_execution_time: float = 10800.0


@dataclass
class EstimatorConfig(PrimitiveConfig):
    name: str = "estimator"
    default_precision: float = 0.015625


@dataclass
class SamplerConfig(PrimitiveConfig):
    name: str = "sampler"
    default_shots: Optional[int] = 4096


@dataclass
class BackendConfig:
    name: str = "aer"
    method: str = "automatic"
    noise: str = "device"
    max_parallel_threads: int = 0
    seed_simulator: int = 1234


@dataclass
class IbmBackendConfig:
    name: str = "ibm"
    device: Optional[str] = None
    channel: Optional[str] = None
    instance: Optional[str] = None


@dataclass
class TranspileConfig:
    optimization_level: int = 2
    seed_transpiler: int = 1234
    initial_layout: Optional[List[int]] = None

    @property
    def layout(self) -> Optional[Tuple[int, ...]]:
        """``initial_layout`` as a tuple (hashable: the compilers are shared per layout)."""
        return tuple(self.initial_layout) if self.initial_layout is not None else None


@dataclass
class SessionConfig:
    mode: str = "job"
    max_time: float = 28800.0
    parameter_sets_per_job: int = 0
    interactive_ttl: Optional[float] = 60.0


@dataclass
class MeasureNoiseLearningConfig:
    num_randomizations: Optional[int] = None
    shots_per_randomization: Optional[int] = None


@dataclass
class ZneConfig:
    amplifier: Optional[str] = None
    noise_factors: Optional[List[float]] = None
    extrapolator: Optional[List[str]] = None
    extrapolated_noise_factors: Optional[List[float]] = None
    # qrt_runner only (IBM has no such leaves): how the extrapolator is chosen (uncertainty: the
    # first well-conditioned one, default; order: the first successful one, as IBM), and whether
    # each Pauli term is extrapolated on its own (default true, as IBM's service) or each observable
    extrapolator_choice: Optional[str] = None
    extrapolate_per_term: Optional[bool] = None


@dataclass
class PecConfig:
    max_overhead: Optional[float] = None
    noise_gain: Any = None  # a float >= 0, or "auto"


@dataclass
class ResilienceConfig:
    measure_mitigation: Optional[bool] = None
    measure_noise_learning: MeasureNoiseLearningConfig = field(default_factory=MeasureNoiseLearningConfig)
    zne_mitigation: Optional[bool] = None
    zne: ZneConfig = field(default_factory=ZneConfig)
    pec_mitigation: Optional[bool] = None
    pec: PecConfig = field(default_factory=PecConfig)
    layer_noise_model: Optional[str] = None  # a layer noise model file for PEC/PEA (default: the fake device's own)
    # qrt_runner only, sampler with measure_mitigation: also report the nearest probability
    # distribution to each readout-mitigated quasi-distribution (default true; the raw stay)
    nearest_probability: Optional[bool] = None


@dataclass
class TwirlingConfig:
    enable_gates: Optional[bool] = None
    enable_measure: Optional[bool] = None
    num_randomizations: Optional[int] = None
    shots_per_randomization: Optional[int] = None
    strategy: Optional[str] = None
    dressing_noise: Optional[bool] = None  # qrt_runner only: IBM's compiled dressings' errors


@dataclass
class DynamicalDecouplingConfig:
    enable: Optional[bool] = None
    sequence_type: Optional[str] = None
    extra_slack_distribution: Optional[str] = None
    scheduling_method: Optional[str] = None
    skip_reset_qubits: Optional[bool] = None


@dataclass
class MitigationConfig:
    """Leaf names as ``qiskit_ibm_runtime.options_models``; null = unset, filled from the level."""

    resilience_level: int = 0
    resilience: ResilienceConfig = field(default_factory=ResilienceConfig)
    twirling: TwirlingConfig = field(default_factory=TwirlingConfig)
    dynamical_decoupling: DynamicalDecouplingConfig = field(default_factory=DynamicalDecouplingConfig)


@dataclass
class TrackingConfig:
    enabled: bool = True
    uri: str = "sqlite:///mlflow.db"
    experiment_name: str = "qrt_runner"
    run_name: Optional[str] = None
    timeout_s: float = 10.0


@dataclass
class OptimizerConfig:
    """``name``: cobyla, nelder-mead, powell (SciPy), l-bfgs-b (SciPy, parameter-shift gradients),
    spsa or adam (parameter-shift gradients). ``learning_rate`` is SPSA's ``a`` and Adam's step;
    ``perturbation`` is SPSA's ``c``."""

    name: str = "cobyla"
    maxiter: int = 100
    tol: float = 1e-6
    learning_rate: float = 0.1
    perturbation: float = 0.1
    seed: int = 1234


@dataclass
class InitialPointConfig:
    """``kind``: zeros, random (uniform in [low, high) with ``seed``) or list (``values``)."""

    kind: str = "random"
    values: Optional[List[Any]] = None
    low: float = -0.1
    high: float = 0.1
    seed: int = 1234


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
    final_shots: int = 4096


@dataclass
class SweepConfig:
    """``resume``: a repeated sweep skips points whose identical config already finished."""

    resume: bool = True


#: The config groups, in the order a run's spec lists them.
GROUPS = ("circuit", "observables", "primitive", "backend", "transpile", "session", "mitigation", "tracking", "task")


@dataclass
class RootConfig:
    """The primary config's own keys; the groups are filled in by the defaults list."""

    seed: int = 1234
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
