"""``qrt-run estimate [--json] <overrides>``: the cost of a run, before anything runs."""

from __future__ import annotations

import json
import os
import sys

from qrt_runner.runs import outcome

USAGE = """qrt-run estimate [--json] <overrides...>

Plans the run the same overrides would start (same config, nothing simulated or sent) and prints
its PUBs, parameter sets, circuits and shots per job and in total, with every mitigation
multiplier (measurement bases, noise factors, randomisations, TREX calibration, PEC sampling
overhead), jobs per iteration and at maxiter for vqe/qaoa, and an estimated QPU time per job and
in total from the device's gate and readout durations and repetition delay (the model is in the
README). --json prints the same as JSON. For backend=ibm the device's fake twin gives the
durations where one exists (no account needed).
Exit codes: 0 estimated, 2 invalid config."""


def estimate_command(args: list[str]) -> int:
    """Run ``qrt-run estimate``; returns the exit code."""
    if "-h" in args or "--help" in args:
        print(USAGE)
        return outcome.EXIT_OK
    as_json = "--json" in args
    overrides = [arg for arg in args if arg != "--json"]
    if os.getcwd() not in sys.path:  # circuit=factory imports the user's own modules from here
        sys.path.insert(0, os.getcwd())
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    from qrt_runner.config.compose import compose_config
    from qrt_runner.errors import ConfigError
    from qrt_runner.runs.check import check
    from qrt_runner.runs.errors import invalid_config_text
    from qrt_runner.tasks.estimate import estimate, format_estimate

    try:
        spec, workload, _ = check(compose_config(overrides))
        result = estimate(spec, workload)
    except (ConfigError, HydraException, OmegaConfBaseException) as exc:
        print(f"qrt-run: invalid config: {invalid_config_text(exc)}", file=sys.stderr)
        return outcome.EXIT_INVALID
    except ValueError as exc:  # a mitigation the planner refuses (e.g. a PEC gain beyond max_overhead)
        print(f"qrt-run: invalid config: {' '.join(str(exc).split())}", file=sys.stderr)
        return outcome.EXIT_INVALID
    print(json.dumps(result, indent=2) if as_json else format_estimate(result))
    return outcome.EXIT_OK
