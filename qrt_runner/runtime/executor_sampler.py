"""``qiskit_ibm_runtime.executor_sampler.Sampler`` (IBM's client-side Sampler), run locally.

A script written for IBM's class runs with its import lines changed::

    # from qiskit_ibm_runtime.executor_sampler import Sampler
    from qrt_runner.runtime.executor_sampler import Sampler

The same constructor, ``options`` (IBM's ``options_models.SamplerOptions``), ``backend()``,
``mode``, ``find_unique_layers`` and ``run(pubs, shots=...)`` as IBM's; twirling and dynamical
decoupling are applied by qrt_runner's engine (the one ``SamplerV2`` runs), every other option
is accepted at the values that change nothing or refused by name
(:mod:`qrt_runner.runtime.client_options`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from qiskit.primitives import BaseSamplerV2
from qiskit.primitives.containers.sampler_pub import SamplerPub
from qiskit_ibm_runtime.exceptions import IBMInputValueError

from qrt_runner.adapters.qiskit_ibm_runtime import finalize_sampler_options
from qrt_runner.runtime.client_options import sampler_dropin_options
from qrt_runner.runtime.client_primitive import ClientPrimitive
from qrt_runner.runtime.client_results import client_sampler_result
from qrt_runner.runtime.options_models import SamplerOptions, coerce_sampler_options
from qrt_runner.runtime.primitives import RuntimeJob
from qrt_runner.runtime.primitives import SamplerV2 as DropInSampler

__all__ = ["Sampler", "SamplerV2"]


class Sampler(ClientPrimitive, BaseSamplerV2):
    """IBM's client-side Sampler on qrt_runner's fake devices.

    Args:
        mode: a fake device (``FakeManilaV2()``), an ``AerSimulator``, a ``Session`` or a ``Batch``.
        options: a dict or an ``options_models.SamplerOptions``.
    """

    options: SamplerOptions
    _engine_class = DropInSampler
    _options_class = SamplerOptions
    _coerce_options = staticmethod(coerce_sampler_options)
    _coerce_pub = staticmethod(SamplerPub.coerce)
    _layers_refusal = "qrt_runner boxes gate layers only"

    def __init__(self, mode: Any = None, options: SamplerOptions | dict | None = None) -> None:
        super().__init__(mode, options)

    def finalize_options(self) -> SamplerOptions:
        """The options with twirling left None turned off, as IBM's ``finalize_options()``."""
        return finalize_sampler_options(self.options)

    def run(self, pubs: Iterable[Any], *, shots: int | None = None, dry_run: bool = False) -> RuntimeJob:
        """Sample the PUBs (``shots`` for those without their own; else ``options.default_shots``)."""
        self._refuse_dry_run(dry_run)
        coerced = [SamplerPub.coerce(pub, shots) for pub in pubs]
        if not coerced:
            raise IBMInputValueError("No pubs provided. At least one pub is required.")
        finalized = self.finalize_options()
        resolved = _resolve_shots(coerced, shots if shots is not None else finalized.default_shots)
        engine = DropInSampler(mode=self._mode_given, options=sampler_dropin_options(finalized))
        return engine.submit(
            coerced,
            shots=resolved,
            finish=lambda result: client_sampler_result(result, finalized, resolved),
            primitive_id="executor",
        )


def _resolve_shots(pubs: list[SamplerPub], default_shots: int | None) -> int:
    """IBM's rule: one number of shots for all PUBs (a PUB's own, else ``run``'s, else ``default_shots``)."""
    found = {pub.shots or default_shots for pub in pubs}
    if None in found:
        raise IBMInputValueError("Shots must be specified either in the pub or as default_shots.")
    if len(found) != 1:
        raise IBMInputValueError(f"All pubs must have the same number of shots. Found: {found}")
    return int(next(iter(found)))  # type: ignore[arg-type]


SamplerV2 = Sampler
