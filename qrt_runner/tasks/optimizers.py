"""Classical optimisers whose every step is one primitive job.

An :data:`Objective` takes all the points a step needs, shape ``(k, P)``, and evaluates them in
one job. SciPy provides COBYLA, Nelder-Mead, Powell and L-BFGS-B; SPSA and Adam are small
enough to write here. Gradients use the parameter-shift rule when every parameter drives exactly
one Pauli rotation, else central finite differences. The optimiser state after each iteration
is a JSON-ready dict, so an interrupted run can be resumed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np
from qiskit import QuantumCircuit
from qiskit.circuit import Parameter

from qrt_runner import interrupts
from qrt_runner.config.schema import OptimizerConfig

Objective = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]
SCIPY_METHODS = {"cobyla": "COBYLA", "nelder-mead": "Nelder-Mead", "powell": "Powell", "l-bfgs-b": "L-BFGS-B"}
# Gates exp(-i θ P / 2) (up to phase) for a Pauli P: the two-term shift rule holds exactly.
_SHIFT_GATES = {"rx", "ry", "rz", "rxx", "ryy", "rzz", "rzx", "p", "u1"}


@dataclass
class Iteration:
    """What one optimiser iteration logs."""

    iteration: int
    energy: float
    std: float
    best_energy: float
    grad_norm: float | None
    evaluations: int
    parameters: list[float]


@dataclass
class OptimizerState:
    """Everything needed to continue: written after every iteration."""

    optimizer: str
    iteration: int = 0
    evaluations: int = 0
    x: list[float] = field(default_factory=list)
    best_x: list[float] = field(default_factory=list)
    best_energy: float = float("inf")
    best_std: float = float("nan")
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> OptimizerState:
        return cls(**data)


def gradient_rule(circuit: QuantumCircuit) -> str:
    """``parameter_shift`` if each parameter is the bare angle of exactly one Pauli rotation."""
    uses: dict[Parameter, int] = {}
    for instruction in circuit.data:
        for param in instruction.operation.params:
            if not hasattr(param, "parameters") or not param.parameters:
                continue
            if instruction.operation.name not in _SHIFT_GATES or not isinstance(param, Parameter):
                return "finite_difference"
            uses[param] = uses.get(param, 0) + 1
    return "parameter_shift" if all(count == 1 for count in uses.values()) else "finite_difference"


def _gradient_points(x: np.ndarray, rule: str) -> tuple[np.ndarray, float]:
    """Points ``x`` then ``x + s e_i`` and ``x - s e_i`` for every i, and the divisor."""
    shift = np.pi / 2 if rule == "parameter_shift" else 1e-2
    eye = np.eye(len(x)) * shift
    divisor = 2.0 if rule == "parameter_shift" else 2 * shift
    return np.vstack([x[None, :], x + eye, x - eye]), divisor


class Optimizer:
    """Runs one of the configured optimisers over an objective.

    Args:
        config: the ``task.optimizer`` settings.
        rule: gradient rule for gradient-based methods (see :func:`gradient_rule`).
        on_iteration: called after every iteration with its record and the state to save.
    """

    def __init__(self, config: OptimizerConfig, rule: str, on_iteration: Callable[[Iteration, OptimizerState], None]):
        self.config = config
        self.rule = rule
        self.on_iteration = on_iteration

    def run(self, objective: Objective, state: OptimizerState) -> OptimizerState:
        """Optimise from ``state.x`` (a fresh state, or one resumed); returns the final state."""
        counted = _Counted(objective, state)
        name = self.config.name
        if name in SCIPY_METHODS:
            self._scipy(counted, state)
        elif name == "spsa":
            self._spsa(counted, state)
        else:
            self._adam(counted, state)
        return state

    @staticmethod
    def _record(state: OptimizerState, x: np.ndarray, energy: float, std: float, grad_norm: float | None) -> Iteration:
        """Count an iteration evaluated at ``x``; the caller saves the state once it is updated."""
        state.iteration += 1
        state.x = list(map(float, x))
        if energy <= state.best_energy:
            state.best_energy, state.best_std, state.best_x = float(energy), float(std), list(map(float, x))
        return Iteration(
            state.iteration, float(energy), float(std), state.best_energy, grad_norm, state.evaluations, list(state.x)
        )

    def _scipy(self, objective: _Counted, state: OptimizerState) -> None:
        remaining = self.config.maxiter - state.iteration
        if remaining <= 0:
            return
        seen: dict[bytes, tuple[float, float, float | None]] = {}
        gradient = self.config.name == "l-bfgs-b"

        def fun(x):
            if gradient:
                points, divisor = _gradient_points(x, self.rule)
                energies, stds = objective(points)
                grad = _shift_gradient(energies, divisor)
                seen[x.tobytes()] = (energies[0], stds[0], float(np.linalg.norm(grad)))
            else:
                energies, stds = objective(x[None, :])
                seen[x.tobytes()] = (energies[0], stds[0], None)
            if energies[0] < state.best_energy:  # every evaluation counts, reported or not
                state.best_energy, state.best_std, state.best_x = (
                    float(energies[0]),
                    float(stds[0]),
                    list(map(float, x)),
                )
            return (energies[0], grad) if gradient else energies[0]

        def callback(xk):
            x = np.asarray(getattr(xk, "x", xk), dtype=float)
            energy, std, grad_norm = seen.get(x.tobytes(), (np.nan, np.nan, None))
            with interrupts.deferred():  # an iteration is counted and recorded whole
                self.on_iteration(self._record(state, x, energy, std, grad_norm), state)

        options = {"maxiter": remaining}
        from scipy.optimize import minimize as scipy_minimize  # imported when used

        scipy_minimize(
            fun,
            np.array(state.x),
            method=SCIPY_METHODS[self.config.name],
            jac=gradient or None,
            tol=self.config.tol,
            options=options,
            callback=callback,
        )

    def _spsa(self, objective: _Counted, state: OptimizerState) -> None:
        a, c = self.config.learning_rate, self.config.perturbation
        # the stability constant is fixed by the first run, so a resumed run continues the same schedule
        stability = state.extra.setdefault("stability", 0.1 * self.config.maxiter)
        x = np.array(state.x)
        for k in range(state.iteration, self.config.maxiter):
            ak = a / (k + 1 + stability) ** 0.602
            ck = c / (k + 1) ** 0.101
            delta = np.random.default_rng([self.config.seed, k]).choice([-1.0, 1.0], size=len(x))
            energies, stds = objective(np.vstack([x, x + ck * delta, x - ck * delta]))
            grad = (energies[1] - energies[2]) / (2 * ck) * delta
            with interrupts.deferred():  # an iteration is counted and recorded whole
                record = self._record(state, x, energies[0], stds[0], float(np.linalg.norm(grad)))
                x = x - ak * grad
                state.x = list(map(float, x))
                self.on_iteration(record, state)

    def _adam(self, objective: _Counted, state: OptimizerState) -> None:
        beta1, beta2, eps = 0.9, 0.999, 1e-8
        x = np.array(state.x)
        m = np.array(state.extra.get("m", np.zeros_like(x)))
        v = np.array(state.extra.get("v", np.zeros_like(x)))
        for k in range(state.iteration, self.config.maxiter):
            points, divisor = _gradient_points(x, self.rule)
            energies, stds = objective(points)
            grad = _shift_gradient(energies, divisor)
            with interrupts.deferred():  # an iteration is counted and recorded whole
                record = self._record(state, x, energies[0], stds[0], float(np.linalg.norm(grad)))
                m = beta1 * m + (1 - beta1) * grad
                v = beta2 * v + (1 - beta2) * grad**2
                step = (
                    self.config.learning_rate
                    * (m / (1 - beta1 ** (k + 1)))
                    / (np.sqrt(v / (1 - beta2 ** (k + 1))) + eps)
                )
                x = x - step
                state.x = list(map(float, x))
                state.extra = {"m": m.tolist(), "v": v.tolist()}
                self.on_iteration(record, state)
            if np.linalg.norm(grad) < self.config.tol:
                break


def _shift_gradient(energies: np.ndarray, divisor: float) -> np.ndarray:
    """The gradient from the energies at ``_gradient_points``: (E(x + s e_i) - E(x - s e_i)) / divisor."""
    half = (len(energies) - 1) // 2
    return (energies[1 : 1 + half] - energies[1 + half :]) / divisor


class _Counted:
    """Counts evaluations into the state."""

    def __init__(self, objective: Objective, state: OptimizerState):
        self.objective, self.state = objective, state

    def __call__(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        energies, stds = self.objective(np.atleast_2d(points))
        self.state.evaluations += len(np.atleast_2d(points))
        return np.asarray(energies, dtype=float), np.asarray(stds, dtype=float)
