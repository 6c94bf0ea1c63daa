"""Backend kinds: how a run reaches the ideal simulator, a fake device, or IBM Quantum.

Each kind is one class registered in :data:`BACKEND_KINDS` with the schema of its ``backend``
config options. The runner, the optimisation loops and the cost estimate ask the kind instead of
comparing names: which device describes it, and what a run connects to. Whether its jobs run in
the local simulator and whether it has a device (durations, noise) is data of its config schema
(``local`` and ``has_device``), which the checks read without this layer. A new kind is one class
here (or in a module that registers it), its config schema and one ``conf/backend/<name>.yaml``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from qrt_runner.config import schema as s
from qrt_runner.registry import Registry

if TYPE_CHECKING:
    from qiskit.providers import BackendV2

    from qrt_runner.config.spec import RunSpec

__all__ = ["BACKEND_KINDS", "BackendKind", "kind_of"]


class BackendKind:
    """What a kind of backend answers (class attributes and static methods only). Whether it runs
    locally and has a device is data of its config (``spec.backend.local``,
    ``spec.backend.has_device``, which the checks read); each kind repeats its config's answer."""

    #: jobs run in the local simulator process (emulated modes, local mitigation)
    local: bool = s.BackendConfig().local
    #: it has a device: instruction durations, a coupling map and (locally) its noise
    has_device: bool = s.BackendConfig(name="aer").has_device

    @staticmethod
    def device(spec: RunSpec) -> BackendV2 | None:
        """The device whose target, durations and noise describe this backend (None: ideal)."""
        return None

    @staticmethod
    def connect(spec: RunSpec) -> BackendV2 | None:
        """What a run connects to before it starts (None: local kinds build their own backend)."""
        return None


BACKEND_KINDS: Registry[Any] = Registry("backend kind", "backend")


@BACKEND_KINDS.register("aer", s.BackendConfig)
class Aer(BackendKind):
    """The ideal Aer simulator (``backend=aer``): no device, no noise, exact values possible."""


@BACKEND_KINDS.register("fake", s.BackendConfig)
class FakeDevice(BackendKind):
    """A fake IBM device simulated with its noise (``backend=fake_<device>``)."""

    has_device = s.BackendConfig(name="fake_manila").has_device

    @staticmethod
    def device(spec: RunSpec) -> BackendV2 | None:
        from qrt_runner.execution.devices import device

        return device(spec.backend.name)


@BACKEND_KINDS.register("ibm", s.IbmBackendConfig)
class IbmQuantum(BackendKind):
    """IBM Quantum through qiskit-ibm-runtime (``backend=ibm``; ``channel=local`` rehearses it)."""

    local = s.IbmBackendConfig().local
    has_device = s.IbmBackendConfig().has_device

    @staticmethod
    def device(spec: RunSpec) -> BackendV2 | None:
        """The device's fake twin where one exists (``ibm_brisbane`` -> ``fake_brisbane``), so
        that its durations are known without an account; else the device from the account."""
        from qrt_runner.execution.devices import device
        from qrt_runner.execution.fake_backends import fake_backend_names

        assert isinstance(spec.backend, s.IbmBackendConfig)  # the kind of an ibm backend config
        name = spec.backend.device or ""
        twin = "fake_" + name.removeprefix("ibm_").removeprefix("ibmq_")
        for candidate in (name, twin):
            if candidate in fake_backend_names():
                return device(candidate)
        return IbmQuantum.connect(spec)

    @staticmethod
    def connect(spec: RunSpec) -> BackendV2 | None:
        from qrt_runner.execution import ibm

        return ibm.connect(spec)


def kind_of(backend: s.BackendConfig | s.IbmBackendConfig) -> type[BackendKind]:
    """The kind of a ``backend`` config: ``ibm``, ``aer`` or (any fake device name) ``fake``."""
    if isinstance(backend, s.IbmBackendConfig):
        return BACKEND_KINDS.get("ibm").build
    return BACKEND_KINDS.get("aer" if backend.name == "aer" else "fake").build
