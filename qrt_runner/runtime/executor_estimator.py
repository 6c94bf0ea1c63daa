"""``qiskit_ibm_runtime.executor_estimator.Estimator`` (IBM's client-side Estimator), run locally.

A script written for IBM's class runs with its import lines changed::

    # from qiskit_ibm_runtime.executor_estimator import Estimator
    from qrt_runner.runtime.executor_estimator import Estimator

``mode=`` a fake device, an ``AerSimulator``, a :class:`~qrt_runner.runtime.session.Session` or
``Batch``; ``options=`` a dict or an ``options_models.EstimatorOptions`` (IBM's models, validated
as IBM validates them); ``find_unique_layers(pubs)`` for the noise learner, and
``options.resilience.layer_noise_model = zip(layers, maps)`` for PEC and PEA. IBM's finalization
of the options, its shot rule and its input checks run as in IBM's; the mitigation itself is
qrt_runner's engine (the one ``EstimatorV2`` runs), and every option is applied or refused by name
(:mod:`qrt_runner.runtime.client_options`). Without a ``layer_noise_model``, PEC and PEA use the
model derived from the fake device (IBM's raises).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from qiskit.primitives import BaseEstimatorV2
from qiskit.primitives.containers.estimator_pub import EstimatorPub
from qiskit_ibm_runtime.exceptions import IBMInputValueError
from qiskit_ibm_runtime.options_models import EstimatorOptions as IbmEstimatorOptions

from qrt_runner.adapters.qiskit_ibm_runtime import finalize_estimator_options
from qrt_runner.runtime.client_options import estimator_dropin_options, uses_layer_noise
from qrt_runner.runtime.client_primitive import ClientPrimitive
from qrt_runner.runtime.client_results import client_estimator_result
from qrt_runner.runtime.options_models import EstimatorOptions, coerce_estimator_options
from qrt_runner.runtime.primitives import EstimatorV2 as DropInEstimator
from qrt_runner.runtime.primitives import RuntimeJob

__all__ = ["Estimator", "EstimatorV2"]


class Estimator(ClientPrimitive, BaseEstimatorV2):
    """IBM's client-side Estimator on qrt_runner's fake devices and mitigation engine.

    Args:
        mode: a fake device (``FakeManilaV2()``), an ``AerSimulator``, a ``Session`` or a ``Batch``.
        options: a dict or an ``EstimatorOptions`` (qrt_runner's ``options_models`` or IBM's; an
            options object is kept, not copied, so later changes to it apply, as with IBM's).
    """

    options: IbmEstimatorOptions
    _engine_class = DropInEstimator
    _options_class = EstimatorOptions
    _coerce_options = staticmethod(coerce_estimator_options)
    _coerce_pub = staticmethod(EstimatorPub.coerce)
    _layers_refusal = (
        "qrt_runner's PEC and PEA model gate layers only (readout error is TREX's, resilience.measure_mitigation)"
    )

    def __init__(self, mode: Any = None, options: IbmEstimatorOptions | dict | None = None) -> None:
        super().__init__(mode, options)

    def finalize_options(self) -> IbmEstimatorOptions:
        """The options with the resilience level's defaults filled in, as IBM's ``finalize_options()``."""
        return finalize_estimator_options(self.options)

    def run(self, pubs: Iterable[Any], *, precision: float | None = None, dry_run: bool = False) -> RuntimeJob:
        """Run the PUBs; one precision for all (IBM's rule), else ``IBMInputValueError``."""
        self._refuse_dry_run(dry_run)
        coerced = [EstimatorPub.coerce(pub, precision) for pub in pubs]
        finalized = self.finalize_options()
        _validate(coerced, finalized)
        resolved = _resolve_precision(coerced, precision)
        if resolved is not None:
            shots = int(math.ceil(1.0 / resolved**2))
        elif finalized.default_shots is not None:
            shots = int(finalized.default_shots)
        else:
            shots = int(math.ceil(1.0 / finalized.default_precision**2))
        if uses_layer_noise(finalized):
            if not self._engine.has_device():
                raise ValueError(
                    "options.resilience: PEC and PEA act on a device's noise, and the ideal simulator has none "
                    "(IBM's local mode injects resilience.layer_noise_model as noise; qrt_runner does not): "
                    "use a fake device as the mode"
                )
            if finalized.resilience.layer_noise_model is not None:
                _check_isa(coerced, self.backend())
        dropin = estimator_dropin_options(finalized, [pub.circuit for pub in coerced])
        dropin.default_shots = shots
        engine = DropInEstimator(mode=self._mode_given, options=dropin)
        unprecise = [
            EstimatorPub(pub.circuit, pub.observables, pub.parameter_values, validate=False) for pub in coerced
        ]
        return engine.submit(
            unprecise,
            finish=lambda result: client_estimator_result(result, coerced, finalized, resolved, shots),
            primitive_id="executor",
        )


def _validate(pubs: list[EstimatorPub], finalized: Any) -> None:
    """IBM's input checks that qrt_runner's engine does not make itself."""
    if not pubs:
        raise IBMInputValueError("No pubs provided. At least one pub is required.")
    if finalized.resilience.pec_mitigation and finalized.resilience.zne_mitigation:
        raise IBMInputValueError("PEC mitigation and ZNE mitigation are incompatible with one another.")


def _check_isa(pubs: list[EstimatorPub], backend: Any) -> None:
    """A given layer noise model names the layers of ISA circuits: as wide as the backend, each two-qubit
    gate one the backend has on those qubits (else the engine transpiles and the layers change)."""
    target = getattr(backend, "target", None)
    if target is None:
        return
    for number, pub in enumerate(pubs):
        circuit = pub.circuit
        if circuit.num_qubits != target.num_qubits:
            raise ValueError(
                f"options.resilience.layer_noise_model: PUB {number} is not an ISA circuit ({circuit.num_qubits} qubits, "
                f"the backend has {target.num_qubits}); transpile it for the backend before find_unique_layers and run"
            )
        for instruction in circuit.data:
            qubits = tuple(circuit.find_bit(q).index for q in instruction.qubits)
            if len(qubits) == 2 and not target.instruction_supported(instruction.operation.name, qubits):
                raise ValueError(
                    f"options.resilience.layer_noise_model: PUB {number} is not an ISA circuit "
                    f"({instruction.operation.name} on qubits {qubits} is not the backend's); transpile it for the "
                    "backend before find_unique_layers and run"
                )


def _resolve_precision(pubs: list[EstimatorPub], run_precision: float | None) -> float | None:
    """IBM's rule: the PUBs' precision (one for all, ``run``'s for those without), or None."""
    precisions = {pub.precision if pub.precision is not None else run_precision for pub in pubs}
    if len(precisions) != 1:
        raise IBMInputValueError(
            f"All pubs must have the same precision. Found: {precisions} "
            "(possibly via the run provided precision parameter)"
        )
    precision = next(iter(precisions))
    if precision is not None and precision <= 0:
        raise IBMInputValueError("The precision value must be strictly greater than 0.")
    return precision


EstimatorV2 = Estimator
