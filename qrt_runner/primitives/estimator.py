"""A local Estimator (``BaseEstimatorV2``): Pauli expectation values from measured shots.

Like the hardware service, it measures each qubit-wise commuting group of Pauli terms in its
own basis, ``ceil(1/precision**2)`` shots per basis, and reports the mean and the standard error
computed from those shots. With precision 0 on the ideal simulator it returns exact values.
Mitigation (TREX with measurement twirling, gate twirling, ZNE by gate folding or PEA, PEC)
runs inside the same job. Each PUB's circuits and simulator task are planned by
:mod:`.estimator_plan`, and its result is combined from the task's outputs by
:mod:`.estimator_results`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from qiskit.primitives import BaseEstimatorV2, PrimitiveResult
from qiskit.primitives.containers import EstimatorPub, EstimatorPubLike

from qrt_runner.execution.backend import LocalBackend
from qrt_runner.execution.cost import job_cost
from qrt_runner.execution.modes import ExecutionMode, LocalJob, Planned
from qrt_runner.mitigation.options import EffectiveMitigation
from qrt_runner.primitives.estimator_plan import _PubPlan
from qrt_runner.primitives.estimator_results import combine
from qrt_runner.primitives.precision import shots_for_precision


@dataclass
class EstimatorOptions:
    """Leaf names as in ``qiskit_ibm_runtime.options_models.EstimatorOptions``."""

    default_precision: float = 0.015625
    default_shots: int | None = None
    max_execution_time: float = 10800.0
    mitigation: EffectiveMitigation | None = None


def observed_qubits(pub: EstimatorPub) -> tuple[int, ...]:
    """The qubits of the PUB's circuit that any of its observables acts on."""
    width = pub.circuit.num_qubits
    qubits = {
        width - 1 - position
        for element in pub.observables.ravel().tolist()
        for label in element
        for position, letter in enumerate(label)
        if letter != "I"
    }
    return tuple(sorted(qubits))


class Estimator(BaseEstimatorV2):
    """Qiskit's V2 Estimator on a :class:`LocalBackend`, run as jobs of an execution mode.

    Args:
        backend: the local backend (ideal or fake device).
        mode: a session or batch; None runs each job on its own (job mode).
        options: default precision/shots and the job time limit.
    """

    def __init__(
        self, backend: LocalBackend, mode: ExecutionMode | None = None, options: EstimatorOptions | None = None
    ):
        self.backend = backend
        self.mode = mode or ExecutionMode("job", backend.executor)
        self.options = options or EstimatorOptions()

    @property
    def default_precision(self) -> float:
        """``options.default_precision`` (qiskit-algorithms' gradients read it, as from Qiskit's estimators)."""
        return self.options.default_precision

    def run(self, pubs: Iterable[EstimatorPubLike], *, precision: float | None = None) -> LocalJob:
        planned = self.plan(pubs, precision=precision, seed=self.backend.next_seed())
        return self.mode.submit(planned.tasks, planned.postprocess, self.options.max_execution_time, planned.cost)

    def plan(
        self, pubs: Iterable[EstimatorPubLike], *, precision: float | None = None, seed: int | None = None
    ) -> Planned:
        """The simulator tasks of a job on ``pubs``, how to combine their outputs, and the job's
        cost (circuits, shots, estimated QPU time), without running anything."""
        if precision is None:
            precision = self.options.default_precision
        if self.options.default_shots is not None and self.options.default_shots <= 0:
            raise ValueError(
                f"default_shots={self.options.default_shots}: must be a positive number of shots "
                "(or None to size the shots from the precision)"
            )
        coerced = [EstimatorPub.coerce(pub, precision) for pub in pubs]
        seed = self.backend.seed_simulator if seed is None else seed
        plans = []
        for pub in coerced:
            if pub.precision == 0 and self.backend.noisy and self.options.default_shots is None:
                raise ValueError(
                    f"precision 0 (exact) is only available on the ideal simulator, not {self.backend.name}"
                )
            shots = self.options.default_shots or shots_for_precision(pub.precision)
            # IBM's rule: default_shots wins over the precision, and the precision reported is 1/sqrt(shots)
            reported = 1 / math.sqrt(shots) if self.options.default_shots else pub.precision
            isa = self.backend.compiler.compile(pub.circuit, keep=observed_qubits(pub))
            plans.append(_PubPlan(pub, isa, self.backend, shots, self.options.mitigation, seed, reported))
        tasks = [plan.sim_task(self.backend, seed) for plan in plans]

        def postprocess(outputs):
            results = [combine(plan, [output]) for plan, output in zip(plans, outputs)]
            return PrimitiveResult(results, metadata={"version": 2, "seed_simulator": seed})

        return Planned(
            tasks,
            postprocess,
            job_cost(tasks, [plan.roles() for plan in plans], self.backend.device),
            plans[0].multipliers() if plans else None,
        )
