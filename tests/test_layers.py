"""The layers' rules: the library below the config (primitives, mitigation, simulation, the
runtime drop-in) imports neither Hydra nor OmegaConf."""

from __future__ import annotations

import subprocess
import sys


def test_the_core_imports_neither_hydra_nor_omegaconf():
    code = (
        "import sys\n"
        "import qrt_runner.primitives.estimator, qrt_runner.primitives.sampler, qrt_runner.mitigation.options\n"
        "import qrt_runner.simulation.executor, qrt_runner.simulation.task, qrt_runner.backend, qrt_runner.modes\n"
        "import qrt_runner.runtime, qrt_runner.config.schema\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'hydra', 'omegaconf'}))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"
