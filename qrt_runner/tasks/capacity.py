"""Can this backend run this circuit? Checked before anything runs, with a one-line reason."""

from __future__ import annotations

from typing import Any

from qiskit import QuantumCircuit

from qrt_runner.config import schema as s
from qrt_runner.config.spec import RunSpec
from qrt_runner.errors import CapacityError, ConfigError
from qrt_runner.execution.backends import kind_of
from qrt_runner.execution.devices import device as fake_device
from qrt_runner.memory import memory_budget, memory_bytes, size_text


def check_capacity(spec: RunSpec, circuit: QuantumCircuit) -> None:
    """Refuse circuits wider than the device (raises ConfigError naming the key to change), and
    circuits no simulation method fits, judged from the circuit as written (raises CapacityError;
    :func:`simulation_plan` decides on the transpiled circuit)."""
    backend = spec.backend
    if not backend.local:
        return
    assert isinstance(backend, s.BackendConfig)  # only backend=ibm is an IbmBackendConfig
    if backend.has_device:
        device_width = fake_device(backend.name).num_qubits
        if circuit.num_qubits > device_width:
            raise ConfigError(
                "circuit.num_qubits",
                circuit.num_qubits,
                f"{backend.name} has only {device_width} qubits",
                "use a smaller circuit or a larger device (e.g. backend=fake_sherbrooke)",
            )
    from qrt_runner.execution.method_choice import refuse_early

    refuse_early(backend.method, circuit, backend.noise if backend.has_device else "none")


def simulation_plan(spec: RunSpec, circuit: QuantumCircuit) -> dict | None:
    """How the local simulator will run ``circuit``: transpiled (with the compiler the run
    shares, so it is not transpiled twice), then the method chosen for it
    (:func:`~qrt_runner.execution.method_choice.choose_method`), as results.json records it.
    None for IBM Quantum.

    Raises:
        CapacityError: no method fits this machine (one line: the limit and the alternatives).
    """
    backend = spec.backend
    if not backend.local:
        return None
    assert isinstance(backend, s.BackendConfig)  # only backend=ibm is an IbmBackendConfig
    from qrt_runner.execution.backend import ideal_compile_target, shared_compiler
    from qrt_runner.execution.method_choice import choose_method

    device = kind_of(backend).device(spec)
    noise = backend.noise if device is not None else "none"
    compiler = shared_compiler(
        device if device is not None else ideal_compile_target(backend.method),
        spec.transpile.optimization_level,
        spec.transpile.seed_transpiler,
        spec.transpile.layout,
    )
    isa = compiler.compile(circuit)
    shots = spec.shots or 0
    return choose_method(backend.method, isa.circuit, noise, shots).record(backend.method, noise)


# Measured with Aer 0.18: each parameter binding's result costs about 40 KB of simulator memory
# before its outcomes (20,000 bindings of a 4-qubit circuit at 4096 shots: 0.9 GB); a counts
# outcome about 16 bytes, a per-shot bitstring (Sampler memory) about 64.
_BYTES_PER_BINDING = 40_000
_BYTES_PER_OUTCOME = 16
_BYTES_PER_SHOT_BITSTRING = 64
_BYTES_PER_COUNTS_ENTRY = 120  # a dict entry "0101": n kept per parameter set in the results


def check_work_size(spec: RunSpec, num_sets: int, observables: list, circuit: QuantumCircuit) -> None:
    """Refuse work whose simulator results would not fit in memory, before anything runs.

    One job holds, in the simulator process, a result per parameter binding: parameter sets in
    the job x measurement bases x noise factors x randomisations. The run keeps every set's
    counts (Sampler) in memory too.

    Raises:
        ConfigError: naming ``circuit.parameter_values`` (or the shots) with the size and the fix.
    """
    from qrt_runner.mitigation.layer_channels import randomizations_for

    per_job = spec.session.parameter_sets_per_job or num_sets
    per_job = min(per_job, num_sets)
    shots = spec.shots
    measured = circuit.num_clbits or circuit.num_qubits
    outcomes = min(shots, 2 ** min(measured, 62)) if shots else 0
    bases = _bases(observables) if spec.is_estimator else 1
    factors, randomizations, shots_per_binding = 1, 1, shots
    mitigation = spec.effective_mitigation
    if mitigation.active and shots:
        res, twirl = mitigation.resilience, mitigation.twirling
        factors = len(res.zne.noise_factors) if res.zne_mitigation else 1
        if twirl.enable_gates or twirl.enable_measure or res.pec_mitigation:
            randomizations, shots_per_binding = randomizations_for(
                shots,
                twirl.num_randomizations,
                twirl.shots_per_randomization,
                twirl.num_randomizations_auto and mitigation.needs_layer_noise,
            )
    bindings = per_job * max(bases, 1) * factors * randomizations
    if not spec.is_estimator:
        per_binding = _BYTES_PER_BINDING + _BYTES_PER_SHOT_BITSTRING * shots_per_binding
    elif shots:
        per_binding = _BYTES_PER_BINDING + _BYTES_PER_OUTCOME * min(outcomes, shots_per_binding)
    else:
        per_binding = _BYTES_PER_BINDING + 100 * len(observables)
    job_bytes = bindings * per_binding
    kept = num_sets * outcomes * _BYTES_PER_COUNTS_ENTRY if not spec.is_estimator else num_sets * len(observables) * 16
    budget = memory_budget()
    if job_bytes <= budget and kept <= budget:
        return
    machine = size_text(memory_bytes())
    if job_bytes > budget:
        sets_fit = max(1, budget // max(job_bytes // per_job, 1))
        detail = (
            f"one job would hold about {size_text(job_bytes)} of simulator results ({bindings:,} bindings: {per_job:,} "
            f"parameter sets x {bases} bases x {factors} noise factors x {randomizations} randomisations), "
            f"more than half this machine's {machine}"
        )
        if per_job > 1:
            fix = f"split the sets into jobs with session.parameter_sets_per_job={sets_fit:,} or fewer"
            raise CapacityError("circuit.parameter_values", f"{num_sets:,} sets", detail, fix)
        key, value = _size_key(spec, randomizations, shots_per_binding)  # one set per job: shots or twirls
        raise CapacityError(key, value, detail, "use fewer shots, randomisations or observables")
    raise CapacityError(
        "circuit.parameter_values",
        f"{num_sets:,} sets",
        f"the run would keep about {size_text(kept)} of counts, more than half this machine's {machine}",
        "use fewer parameter sets or shots",
    )


def _size_key(spec: RunSpec, randomizations: int, shots_per_binding: int) -> tuple[str, Any]:
    """The key that makes one parameter set's job too large (its randomisations, or else its shots),
    and its value."""
    if randomizations > max(shots_per_binding, 1):
        return "mitigation.twirling.num_randomizations", randomizations
    if spec.primitive.default_shots is not None:
        return "primitive.default_shots", spec.primitive.default_shots
    return "primitive.default_precision", getattr(spec.primitive, "default_precision", None)


def _bases(observables: list) -> int:
    from qiskit.quantum_info import PauliList

    labels = sorted({label for _, op in observables for label in op.paulis.to_labels() if set(label) != {"I"}})
    return len(PauliList(labels).group_qubit_wise_commuting()) if labels else 0
