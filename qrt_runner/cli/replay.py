"""``qrt-run replay <run dir | run id> [overrides...]`` and ``qrt-run diff <run A> <run B>``."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from qrt_runner.errors import ConfigError
from qrt_runner.runs import outcome

EXIT_DIFFERENT = 4

REPLAY_USAGE = """qrt-run replay <run dir | MLflow run id> [overrides...]

Runs a recorded run again from its record alone (config.yaml, results.json and the kept input
files; by run id they are read from the tracking store: tracking.uri=... if not the default), as a
new run tagged replay_of=<id>, then reports field by field whether the results are identical to
the bit, or how far they moved, and what changed around them (package versions, qrt_runner's
commit, Python, the device snapshot, the inputs). Overrides make a variation ("replay this run on
fake_torino": backend=fake_torino), recorded as replay_variation.
Exit codes: 0 identical results, 4 different results, 1 the replay failed, 2 bad input, 3 not tracked."""

DIFF_USAGE = """qrt-run diff <run A> <run B> [tracking.uri=...]

What differs between two runs (run directories or MLflow run ids): config, inputs, environment and
results. Exit codes: 0 identical results, 4 different results, 2 bad input."""


def replay_command(args: list[str]) -> int:
    """Run ``qrt-run replay``; returns the exit code."""
    from qrt_runner.reproduce.replay import load_record

    if args and args[0] in ("-h", "--help"):
        print(REPLAY_USAGE)
        return outcome.EXIT_OK
    if not args:
        print(
            "qrt-run: invalid input: qrt-run replay needs a run: give its run directory or MLflow run id "
            "(qrt-run replay --help says more)",
            file=sys.stderr,
        )
        return outcome.EXIT_INVALID
    source, variation = args[0], args[1:]
    try:
        record = load_record(source, _uri(variation))
    except ConfigError as exc:
        print(f"qrt-run: invalid input: {exc}", file=sys.stderr)
        return outcome.EXIT_INVALID
    try:
        return _replay(record, variation)
    finally:
        record.discard()


def _replay(record, variation: list[str]) -> int:
    """Run a loaded record again and report what moved."""
    from hydra.core.config_store import ConfigStore
    from omegaconf import OmegaConf

    from qrt_runner.config.compose import register_configs
    from qrt_runner.launch.hydra_run import run_hydra
    from qrt_runner.reproduce.compare import compare
    from qrt_runner.reproduce.replay import REPLAY_ENV, factory_folder, replay_overlay

    try:
        overlay = replay_overlay(record, variation)
    except ConfigError as exc:
        print(f"qrt-run: invalid input: {exc}", file=sys.stderr)
        return outcome.EXIT_INVALID
    register_configs()
    ConfigStore.instance().store(group="experiment", name="_replay", node=OmegaConf.create(overlay), package="_global_")
    module_folder = factory_folder(record)
    if module_folder is not None:  # the kept copy of the factory module is imported, not today's file
        sys.path.insert(0, str(module_folder))
    os.environ[REPLAY_ENV] = json.dumps({"of": record.run_id or str(record.folder.resolve()), "variation": variation})
    try:
        code = run_hydra(["experiment=_replay", *variation])
    finally:
        os.environ.pop(REPLAY_ENV, None)
        if module_folder is not None:
            sys.path.remove(str(module_folder))
    runs = outcome.current().run_dirs
    if code not in (outcome.EXIT_OK, outcome.EXIT_UNTRACKED) or not runs:
        return code
    replayed = json.loads((Path(runs[-1]) / "results.json").read_text())
    config = OmegaConf.to_container(OmegaConf.load(Path(runs[-1]) / "config.yaml"))
    assert isinstance(config, dict)  # config.yaml is a mapping
    report = compare(record.results, replayed, record.config, config, replay=True)
    print(
        f"qrt-run replay of {record.source}" + (f" with {' '.join(variation)}" if variation else "") + f" -> {runs[-1]}"
    )
    print("\n".join(report.lines()))
    if not report.results_identical:
        return EXIT_DIFFERENT
    return code


def diff_command(args: list[str]) -> int:
    """Run ``qrt-run diff``; returns the exit code."""
    from qrt_runner.reproduce.compare import compare
    from qrt_runner.reproduce.replay import load_record

    runs = [arg for arg in args if "=" not in arg]
    if any(arg in ("-h", "--help") for arg in args):
        print(DIFF_USAGE)
        return outcome.EXIT_OK
    if len(runs) != 2:
        print(
            f"qrt-run: invalid input: qrt-run diff compares two runs, got {len(runs)} ({' '.join(runs) or 'none'}); "
            "give two run directories or MLflow run ids (qrt-run diff --help says more)",
            file=sys.stderr,
        )
        return outcome.EXIT_INVALID
    records = []
    try:
        for run in runs:
            records.append(load_record(run, _uri(args)))
    except ConfigError as exc:
        print(f"qrt-run: invalid input: {exc}", file=sys.stderr)
        return outcome.EXIT_INVALID
    finally:
        for record in records:
            record.discard()
    a, b = records
    report = compare(a.results, b.results, a.config, b.config)
    print(f"qrt-run diff {a.source} -> {b.source}")
    print("\n".join(report.lines()))
    return outcome.EXIT_OK if report.results_identical else EXIT_DIFFERENT


def _uri(args: list[str]) -> str | None:
    for arg in args:
        if arg.startswith("tracking.uri="):
            return arg.partition("=")[2]
    return None
