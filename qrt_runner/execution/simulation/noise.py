"""A fake device's Aer noise model, restricted to a few of its qubits.

``NoiseModel.from_backend`` over a 127-qubit device takes seconds and makes every simulation
pay for all 127 qubits. Building it from a sub-target holding only the qubits a circuit uses
gives the same errors on those qubits at the cost of a small device.
"""

from __future__ import annotations

import json

from qiskit.providers import BackendV2, Options
from qiskit.quantum_info import Kraus
from qiskit.transpiler import Target
from qiskit_aer.noise import NoiseModel, QuantumError

from qrt_runner.adapters import qiskit_aer as aer_internals


class _SubDevice(BackendV2):
    """A BackendV2 view of some qubits of a device (only what NoiseModel.from_backend reads)."""

    def __init__(self, target: Target, name: str):
        super().__init__(name=name)
        self._target = target

    @property
    def target(self) -> Target:
        return self._target

    @property
    def max_circuits(self):
        return None

    @classmethod
    def _default_options(cls):
        return Options()

    def run(self, run_input, **options):
        raise NotImplementedError("a sub-device only describes noise")


def sub_target(target: Target, qubits: tuple[int, ...]) -> Target:
    """The part of ``target`` on ``qubits``, renumbered 0..len(qubits)-1."""
    index = {q: i for i, q in enumerate(qubits)}
    properties = target.qubit_properties
    sub = Target(
        num_qubits=len(qubits),
        dt=target.dt,
        qubit_properties=[properties[q] for q in qubits] if properties else None,
    )
    for name in target.operation_names:
        qargs_props = target[name]
        if qargs_props is None or None in qargs_props:
            continue
        kept = {
            tuple(index[q] for q in qargs): props
            for qargs, props in qargs_props.items()
            if qargs is not None and all(q in index for q in qargs)
        }
        if kept:
            sub.add_instruction(target.operation_from_name(name), kept, name=name)
    return sub


class SerialisedOnceNoiseModel(NoiseModel):
    """A noise model that keeps its serialised form, optionally with every gate error as one
    Kraus channel.

    Aer serialises the noise model on every run (``to_dict`` and a JSON round trip: about 15 ms
    for 5 qubits, as long as a small twirled job's simulation). The model is built once per
    simulator and not changed afterwards, so its dict is computed once; the public ``add_*``
    methods (Aer adds circuit-inlined errors to a copy) drop it.

    A device's gate errors are mixtures of circuits (depolarizing and thermal relaxation, up to
    12 branches). The density-matrix method turns each into a superoperator on every run by
    simulating its branches: 25-35 ms per run for 5 qubits, against 0.5 ms for the circuit
    itself. With ``kraus`` the serialised errors are the same channels as single Kraus
    instructions, which it converts directly (5 ms); the distributions are the same.
    """

    def to_dict(self, serializable: bool = False) -> dict:
        cache = self.__dict__.setdefault("_qrt_serialised", {})
        if serializable not in cache:
            if self.__dict__.get("_qrt_kraus"):
                out = super().to_dict(False)
                out = {**out, "errors": [_as_kraus(entry) for entry in out["errors"]]}
                if serializable:
                    out = json.loads(json.dumps(out, cls=aer_internals.json_encoder()))
                cache[serializable] = out
            else:
                cache[serializable] = super().to_dict(serializable)
        return cache[serializable]

    def _changed(self) -> None:
        self.__dict__.pop("_qrt_serialised", None)

    def add_all_qubit_quantum_error(self, *args, **kwargs):
        self._changed()
        return super().add_all_qubit_quantum_error(*args, **kwargs)

    def add_quantum_error(self, *args, **kwargs):
        self._changed()
        return super().add_quantum_error(*args, **kwargs)

    def add_all_qubit_readout_error(self, *args, **kwargs):
        self._changed()
        return super().add_all_qubit_readout_error(*args, **kwargs)

    def add_readout_error(self, *args, **kwargs):
        self._changed()
        return super().add_readout_error(*args, **kwargs)

    def reset(self):
        self._changed()
        return super().reset()

    def add_basis_gates(self, *args, **kwargs):
        self._changed()
        return super().add_basis_gates(*args, **kwargs)

    @classmethod
    def of(cls, model: NoiseModel, kraus: bool = False) -> SerialisedOnceNoiseModel:
        """The same model (its state copied) as a :class:`SerialisedOnceNoiseModel`."""
        out = aer_internals.copy_noise_model(model, cls)
        out._changed()
        out.__dict__["_qrt_kraus"] = kraus
        return out


_KRAUS: dict[str, dict] = {}  # error id -> the same error as one Kraus channel (serialised)


def _as_kraus(entry: dict) -> dict:
    """A serialised gate error (``qerror``) as one Kraus channel, its location kept."""
    if entry.get("type") != "qerror":
        return entry
    converted = _KRAUS.get(entry["id"])
    if converted is None:
        try:
            channel = QuantumError(Kraus(QuantumError.from_dict(entry)))
        except Exception:  # an instruction from_dict cannot read: keep the error as it is
            return entry
        converted = _KRAUS[entry["id"]] = {**channel.to_dict(), "id": entry["id"]}
    out = {**converted, "operations": entry["operations"]}
    if "gate_qubits" in entry:
        out["gate_qubits"] = entry["gate_qubits"]
    return out


def restricted_noise_model(device: BackendV2, qubits: tuple[int, ...], kraus: bool = False) -> NoiseModel:
    """The noise model ``NoiseModel.from_backend(device)`` would give, on ``qubits`` only (with
    ``kraus``, serialised as single Kraus channels: see :class:`SerialisedOnceNoiseModel`)."""
    model = NoiseModel.from_backend(_SubDevice(sub_target(device.target, qubits), f"{device.name}{list(qubits)}"))
    return SerialisedOnceNoiseModel.of(model, kraus)
