"""``qrt-run --help``: usage, subcommands, config groups and exit codes, without starting Hydra."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

_HELP = """\
qrt-run: Qiskit Runtime primitives (Estimator, Sampler) with error mitigation, in jobs, sessions
or batches, on Aer, fake IBM devices or IBM hardware; configured by Hydra, tracked in MLflow.

usage:
  qrt-run [group=option] [key=value] ...        one run
  qrt-run -m key=a,b,c [hydra/launcher=joblib]  a sweep: one run per combination
  qrt-run sync <run or sweep dir>...            upload runs that were not tracked (--help)
  qrt-run replay <run dir | run id> [overrides] run a recorded run again, report what moved (--help)
  qrt-run diff <run A> <run B>                  what differs between two runs (--help)
  qrt-run estimate [--json] [overrides]         circuits, shots and QPU time, before anything runs (--help)
  qrt-run schema [--out FILE]                   the config's JSON Schema, for editors (--help)
  qrt-run function pack|upload|run|status|logs|result  the experiment as a Qiskit Function (--help)

config groups (group=option):
{groups}

every key: qrt-run <overrides> --cfg job (prints the composed config, runs nothing)
top-level keys: seed (1234), objective (auto: what a sweep point returns), sweep.resume (true)

sweeps:
  hydra/launcher=basic (default, one process), joblib (local cores), submitit_local,
  submitit_slurm (SLURM), ray (pip install 'qrt_runner[ray]'); hydra/sweeper=basic or optuna
  (minimises objective=...; hydra.sweeper.direction=maximize for fidelities and ratios)

exit codes:
  0 every run finished and was tracked    1 a run ended FAILED or KILLED
  2 invalid config or input; nothing ran  3 finished, but not tracked (qrt-run sync uploads it)
  4 replay/diff: the results differ
  130 interrupted (Ctrl-C) outside a job   143/129 terminated by SIGTERM/SIGHUP (what finished is kept)

Hydra's own flags: qrt-run --hydra-help. Documentation: the README."""


def help_text() -> str:
    return _HELP.format(groups=_groups())


def _groups() -> str:
    from qrt_runner.config.experiments import experiment_dirs
    from qrt_runner.execution.fake_backends import fake_backend_names

    conf = Path(str(files("qrt_runner.conf")))
    lines = []
    for folder in sorted(p for p in conf.iterdir() if p.is_dir() and not p.name.startswith("_")):
        options = sorted(p.stem for p in folder.glob("*.yaml"))
        if folder.name == "backend":
            devices = fake_backend_names()
            options.append(f"fake_<device> ({len(devices)}: {', '.join(devices[:3])}, ...)")
        lines.append(f"  {folder.name:<12} {', '.join(options)}")
    experiments = sorted({p.stem for d in experiment_dirs() for p in d.glob("*.yaml")})
    lines.append(f"  {'experiment':<12} {', '.join(experiments)}  (+ ./experiments/*.yaml)")
    return "\n".join(lines)
