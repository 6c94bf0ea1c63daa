"""Bit-identity check: the numbers of a fixed set of small runs, to compare before and after a refactor.

Run it with ``PYTHONPATH=. .venv/bin/python benchmarks/identity_check.py --out before.json`` on the
old code, then ``... --out after.json --compare before.json`` on the new: every config's
estimator ``evs``/``stds``, sampler ``counts``/``quasi_dists``/``nearest_probability_dists``,
mitigation job records (timing keys dropped), ``jobs[].shots_spent`` and ``jobs[].estimate``,
and a fingerprint of the job's plan (circuit roles, shot multipliers, cache keys, the circuits'
instructions and the bound parameter rows) must be equal with ``==``. ``--only NAME,...`` runs a
subset. The configs are small (fake_manila, coarse precision, one simulator thread): about a
minute in all.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np

from qrt_runner.config.compose import compose_spec
from qrt_runner.tasks.runner import build_workload, local_target, run_experiment

COMMON = ["tracking=none", "backend.max_parallel_threads=1"]
ESTIMATOR = [
    "circuit=ghz",
    "observables=paulis",
    "observables.terms=[ZZZ,XXX,ZZI]",
    "primitive.default_precision=0.0625",
]
MANILA = ["backend=fake_manila"]
SAMPLER = ["primitive=sampler", "primitive.default_shots=256", "circuit=ghz"]
SETS = [
    "circuit=efficient_su2",
    "circuit.num_qubits=2",
    "observables=paulis",
    "observables.terms=[ZZ,XI]",
    "circuit.parameter_values.kind=random",
    "circuit.parameter_values.num_sets=3",
    "primitive.default_precision=0.0625",
]
CONFIGS: dict[str, list[str]] = {
    "none": ESTIMATOR + MANILA + ["mitigation=none"],
    "level1": ESTIMATOR + MANILA + ["mitigation=level1"],
    "level2": ESTIMATOR + MANILA + ["mitigation=level2"],
    "trex": ESTIMATOR + MANILA + ["mitigation=trex"],
    "zne": ESTIMATOR + MANILA + ["mitigation=zne"],
    "zne_front": ESTIMATOR + MANILA + ["mitigation=zne", "mitigation.resilience.zne.amplifier=gate_folding_front"],
    "pec": ESTIMATOR + MANILA + ["mitigation=pec"],
    "pea": ESTIMATOR + MANILA + ["mitigation=pea"],
    "level2_dd": ESTIMATOR + MANILA + ["mitigation=level2", "mitigation.dynamical_decoupling.enable=true"],
    "dd": ESTIMATOR + MANILA + ["mitigation=dd", "mitigation.dynamical_decoupling.sequence_type=XY4"],
    "gate_twirl": ESTIMATOR + MANILA + ["mitigation=none", "mitigation.twirling.enable_gates=true"],
    "measure_twirl": ESTIMATOR + MANILA + ["mitigation=none", "mitigation.twirling.enable_measure=true"],
    "sets_level2": SETS + MANILA + ["mitigation=level2", "session.parameter_sets_per_job=2"],
    "sets_level1": SETS + MANILA + ["mitigation=level1", "session.parameter_sets_per_job=2"],
    "sets_pec": SETS + MANILA + ["mitigation=pec", "session.parameter_sets_per_job=2"],
    "sampler_none": SAMPLER + MANILA + ["mitigation=none"],
    "sampler_trex": SAMPLER + MANILA + ["mitigation=trex"],
    "sampler_twirling": SAMPLER + MANILA + ["mitigation=twirling"],
    "sampler_dd": SAMPLER + MANILA + ["mitigation=dd"],
    "sampler_sets_twirl": [
        "primitive=sampler",
        "primitive.default_shots=256",
        "circuit=efficient_su2",
        "circuit.num_qubits=2",
        "circuit.parameter_values.kind=random",
        "circuit.parameter_values.num_sets=3",
        "session.parameter_sets_per_job=2",
        "mitigation=twirling",
        "mitigation.resilience.measure_mitigation=true",
    ]
    + MANILA,
    "aer_exact": ESTIMATOR + ["backend=aer", "primitive.default_precision=0"],
    "aer_sets_exact": SETS + ["backend=aer", "primitive.default_precision=0"],
    "aer_level1": ESTIMATOR + ["backend=aer", "mitigation=level1"],
}
TIMING_KEYS = {"simulate_s", "simulate_s_by_technique", "combine_s", "build_s"}


def _jsonable(value: Any) -> Any:
    """Plain JSON types; floats keep every bit (as their hex), NaN included."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value).hex() if not math.isnan(value) else "nan"
    if isinstance(value, (complex, np.complexfloating)):
        return [float(value.real).hex(), float(value.imag).hex()]
    return value


def _digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(_jsonable(value), sort_keys=True).encode()).hexdigest()[:16]


def _circuit_digest(circuit) -> str | None:
    if circuit is None:
        return None
    rows = [
        (
            inst.operation.name,
            [str(p) for p in inst.operation.params],
            [circuit.find_bit(q).index for q in inst.qubits],
            [circuit.find_bit(c).index for c in inst.clbits],
        )
        for inst in circuit.data
    ]
    return _digest([rows, sorted(str(p) for p in circuit.parameters), circuit.num_qubits, circuit.num_clbits])


def _stable_keys(keys: list[str], signatures: dict[str, str]) -> list[str]:
    """Cache keys as their structure: ``token:qpy-sha|signature|paulis|suffix`` becomes
    ``ISA|sig<n>|paulis|suffix``, where ``n`` numbers the distinct signatures of the config in
    order of appearance. The ISA fingerprint is random per process (the compiler's token, and a
    parametrised circuit's QPY bytes hold its parameters' UUIDs); the signature's text is free
    to change as long as the same circuits share a key and different circuits do not."""
    out = []
    for key in keys:
        head, _, rest = key.partition("|")
        if ":" not in head or ("|" not in rest and rest != "sampler"):  # the sampler's readout0/1
            out.append(f"ISA|{rest}" if ":" in head else key)
            continue
        parts = rest.split("|")
        if parts[0] == "sampler":  # the Sampler's key: ISA|sampler|signature
            parts += ["", ""]
        if parts[-1].startswith("cal"):
            parts[-1] = "cal"
        signature = "|".join(parts[:-2]) if len(parts) > 2 else parts[0]
        tail = parts[-2:] if len(parts) > 2 else parts[1:]
        number = signatures.setdefault(signature, f"sig{len(signatures)}")
        out.append("|".join(["ISA", number, *tail]))
    return out


def plan_fingerprint(spec, workload) -> dict:
    """What the primitive plans for the first job of the run (seed 0), without running it."""
    target = local_target(spec, None)
    try:
        values = workload.parameter_values
        flat = values.reshape(-1, values.shape[-1]) if values.ndim > 1 else values.reshape(1, -1)
        per_job = spec.session.parameter_sets_per_job or len(flat)
        chunk = flat[:per_job]
        has_params = chunk.shape[1] > 0
        primitive = target.primitive
        if spec.is_estimator:
            observables = [op for _, op in workload.observables]
            pub = (workload.circuit, observables, chunk[:, None, :]) if has_params else (workload.circuit, observables)
        else:
            pub = (workload.circuit, chunk) if has_params else (workload.circuit,)
        planned = primitive.plan([pub], seed=0)  # type: ignore[attr-defined]
        tasks = []
        signatures: dict[str, str] = {}
        for task in planned.tasks:
            tasks.append(
                {
                    "kind": task.kind,
                    "shots": task.shots,
                    "seed": task.seed,
                    "qubits": list(task.qubits),
                    "keys": _stable_keys(task.circuit_keys or [], signatures),
                    "circuit_shots": task.circuit_shots,
                    "prefix_of": task.prefix_of,
                    "rows_per_set": task.rows_per_set,
                    "call_groups": task.call_groups,
                    "circuits": [_circuit_digest(c) for c in task.circuits],
                    "values": [None if v is None else _digest(np.asarray(v)) for v in task.parameter_values],
                }
            )
        cost = planned.cost
        return {
            "tasks": tasks,
            "multipliers": _jsonable(planned.multipliers),
            "cost": None if cost is None else _jsonable(dataclasses.asdict(cost)),
        }
    finally:
        target.close()


def run_config(overrides: list[str]) -> dict:
    spec = compose_spec(COMMON + overrides)
    workload = build_workload(spec)
    result = run_experiment(spec, workload)
    out: dict[str, Any] = {"status": result.status, "error": result.error}
    if result.estimator is not None:
        out["evs"] = _jsonable(result.estimator.evs)
        out["stds"] = _jsonable(result.estimator.stds)
    if result.sampler is not None:
        out["counts"] = _jsonable(result.sampler.counts)
        out["quasi_dists"] = _jsonable(result.sampler.quasi_dists)
        out["nearest_probability_dists"] = _jsonable(result.sampler.nearest_probability_dists)
        out["readout_calibration"] = _jsonable(result.sampler.readout_calibration)
    if result.mitigation is not None:
        out["mitigation_effective"] = _jsonable(result.mitigation["effective"])
        out["mitigation_jobs"] = [
            _jsonable({k: v for k, v in job.items() if k not in TIMING_KEYS and k != "job_id"})
            for job in result.mitigation["jobs"]
        ]
        out["simulate_roles"] = [sorted(job.get("simulate_s_by_technique", {})) for job in result.mitigation["jobs"]]
    out["jobs"] = [{"shots_spent": job.shots_spent, "estimate": _jsonable(job.estimate)} for job in result.jobs]
    out["plan"] = plan_fingerprint(spec, workload)
    return out


def compare(now: dict, before: dict) -> list[str]:
    differences = []
    for name in sorted(set(now) | set(before)):
        if name not in now or name not in before:
            differences.append(f"{name}: only in {'before' if name in before else 'now'}")
            continue
        for key in sorted(set(now[name]) | set(before[name])):
            if now[name].get(key) != before[name].get(key):
                differences.append(f"{name}.{key}: differs")
    return differences


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="/tmp/identity_now.json")
    parser.add_argument("--compare", default=None, help="a JSON file written by an earlier run")
    parser.add_argument("--only", default=None, help="comma-separated config names")
    args = parser.parse_args(argv)
    names = args.only.split(",") if args.only else list(CONFIGS)
    results = {}
    for name in names:
        results[name] = run_config(CONFIGS[name])
        print(f"{name}: {results[name]['status']}", flush=True)
    Path(args.out).write_text(json.dumps(results, indent=1, sort_keys=True))
    if args.compare is None:
        return 0
    before = json.loads(Path(args.compare).read_text())
    before = {name: before[name] for name in names if name in before}
    differences = compare(results, before)
    for line in differences:
        print(line)
    print(f"{len(names)} configs: {'all identical' if not differences else f'{len(differences)} differences'}")
    return 1 if differences else 0


if __name__ == "__main__":
    sys.exit(main())
