"""What the client-side Estimator and Sampler share: the mode, the options, ``backend()``, ``mode``
and ``find_unique_layers``, as IBM's ``executor_estimator.Estimator`` / ``executor_sampler.Sampler``."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar, Literal

from qiskit.circuit import CircuitInstruction

from qrt_runner.runtime.layer_models import unique_layers

__all__ = ["ClientPrimitive"]


class ClientPrimitive:
    """A client-side primitive bound to its mode: ``_engine_class`` (the deprecated drop-in class that
    runs its jobs) checks the mode and answers ``backend()``; ``_coerce_options`` is IBM's rule for
    ``options`` (an options model, kept, or a dict), applied on every assignment."""

    _engine_class: ClassVar[type]
    _options_class: ClassVar[type]
    _layers_refusal: ClassVar[str]

    @staticmethod
    def _coerce_options(options: Any) -> Any:
        """IBM's rule for ``options`` (the subclass's)."""
        raise NotImplementedError

    @staticmethod
    def _coerce_pub(pub: Any) -> Any:
        """A PUB-like as the primitive's PUB (the subclass's)."""
        raise NotImplementedError

    def __init__(self, mode: Any = None, options: Any = None) -> None:
        super().__init__()
        if mode is None:
            raise TypeError(
                f"{type(self).__name__}: give mode=... (a fake device such as FakeManilaV2(), a Session or a Batch)"
            )
        self._mode_given = mode
        self._engine = self._engine_class(mode=mode)  # the mode's checks and backend, as for the deprecated class
        self.options = options if options is not None else self._options_class()

    @staticmethod
    def _refuse_dry_run(dry_run: bool) -> None:
        """IBM's ``run(dry_run=True)`` asks the service to check a job without running it: refused."""
        if dry_run:
            raise ValueError("run(dry_run=True): qrt_runner simulates the job itself; there is no dry run to ask for")

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "options":
            value = self._coerce_options(value)
        super().__setattr__(name, value)

    def backend(self) -> Any:
        """The backend the jobs run on: the fake device or ``AerSimulator`` given (or the session's)."""
        return self._engine.backend()

    @property
    def mode(self) -> Any:
        """The ``Session`` or ``Batch`` the primitive runs in; None in job mode."""
        return self._engine.mode

    def find_unique_layers(
        self, pubs: Iterable[Any], types: Literal["gates", "all"] = "gates"
    ) -> list[CircuitInstruction]:
        """Each distinct layer of two-qubit gates of the PUBs' (ISA) circuits once, as a boxed
        ``CircuitInstruction`` on the circuits' qubits: the layers PEC and PEA act on, to learn
        (``NoiseLearnerV3(mode).run(layers)``) and assign as ``zip(layers, maps)``."""
        if types != "gates":
            raise ValueError(f"find_unique_layers(types={types!r}): {self._layers_refusal}; use types='gates'")
        return unique_layers(self._coerce_pub(pub).circuit for pub in pubs)
