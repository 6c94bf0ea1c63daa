"""A joblib sweep's workers are forked from a forkserver that imported what a point needs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from conftest import HANG_S, run_cli, run_in_own_process_group
from qrt_runner.sweep.workers import wants_warm_workers


@pytest.mark.parametrize(
    ("args", "wanted"),
    [
        (["-m", "hydra/launcher=joblib", "seed=1,2"], True),
        (["--multirun", "+hydra/launcher=joblib", "hydra.launcher.n_jobs=2"], True),
        (["-m", "hydra/launcher=joblib", "hydra.launcher.n_jobs=1"], False),  # joblib runs them in-process
        (["hydra/launcher=joblib"], False),  # not a sweep
        (["-m", "hydra/launcher=submitit_local"], False),
        (["-m", "seed=1,2"], False),
    ],
)
def test_the_command_line_says_when_to_start_the_forkserver_early(args, wanted):
    assert wants_warm_workers(args) is wanted


def test_the_preload_loads_the_transpiler_plugins_and_starts_no_thread():
    """Forking is safe only from a single-threaded process; the plugins are the costly part."""
    code = (
        "import sys, threading\n"
        "import qrt_runner.sweep.preload\n"
        "print(threading.active_count(), 'qiskit_ibm_runtime' in sys.modules, 'matplotlib.figure' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=HANG_S, check=True
    ).stdout
    assert out.split() == ["1", "True", "True"]


def test_the_forkserver_is_stopped_at_once_when_qrt_run_exits():
    """Left alone it takes 0.5 s to exit, and a pipe reading qrt-run's output waits for it."""
    code = (
        "import os\n"
        "from multiprocessing import forkserver\n"
        "from qrt_runner.sweep import workers\n"
        "workers.start_forkserver()\n"
        "pid = forkserver._forkserver._forkserver_pid\n"
        "workers.stop_forkserver()\n"
        "os.waitpid(pid, 0)\n"  # returns only once it is gone
        "print('stopped')\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=HANG_S, check=True
    ).stdout
    assert out.strip() == "stopped"


# A sweep handles Ctrl-C with a Python handler; the forkserver imports what a point needs for seconds.
_CTRL_C_DURING_THE_PRELOAD = """
import os, signal, time
from multiprocessing import forkserver
from qrt_runner.sweep import workers
signal.signal(signal.SIGINT, lambda *_: print("the sweep handled it", flush=True))
workers.start_forkserver()
os.killpg(0, signal.SIGINT)  # a terminal's Ctrl-C: the whole foreground process group, at once
time.sleep(3)
pid = forkserver._forkserver._forkserver_pid
print("forkserver alive" if os.waitpid(pid, os.WNOHANG) == (0, 0) else "forkserver dead", flush=True)
workers.stop_forkserver()
"""


def test_a_ctrl_c_during_the_forkservers_imports_is_the_sweeps_alone():
    """Python's forkserver ignores Ctrl-C once its imports are done; one that came during them
    printed their traceback on the sweep's stderr."""
    done = run_in_own_process_group(_CTRL_C_DURING_THE_PRELOAD)
    assert done.returncode == 0 and done.stderr == "", done.stderr
    assert done.stdout.splitlines() == ["the sweep handled it", "forkserver alive"]


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads the parent's command line from /proc")
def test_joblib_points_run_in_workers_forked_from_the_preloaded_forkserver(tmp_path):
    seen = tmp_path / "seen"
    seen.mkdir()
    (tmp_path / "where.py").write_text(
        "import os, pathlib\n"
        "from qiskit import QuantumCircuit\n"
        "def ghz(n=2):\n"
        f"    out = pathlib.Path({str(seen)!r}) / f'{{os.getpid()}}.txt'\n"
        "    parent = pathlib.Path(f'/proc/{os.getppid()}/cmdline').read_bytes().replace(b'\\0', b' ').decode()\n"
        "    env = [os.environ.get(name, '-') for name in ('OMP_NUM_THREADS', 'QISKIT_PARALLEL')]\n"
        "    out.write_text(' '.join(env) + '\\n' + parent)\n"
        "    qc = QuantumCircuit(n)\n"
        "    qc.h(0)\n"
        "    qc.cx(0, 1)\n"
        "    qc.measure_all()\n"
        "    return qc\n"
    )
    proc = run_cli(
        [
            "-m",
            "circuit=factory",
            "circuit.target=where:ghz",
            "primitive=sampler",
            "primitive.default_shots=64",
            "backend.max_parallel_threads=1",
            "tracking=none",
            "seed=1,2,3,4",
            "hydra/launcher=joblib",
            "hydra.launcher.n_jobs=2",
        ],
        cwd=tmp_path,
        timeout=HANG_S,
    )
    assert proc.returncode == 0, proc.stderr
    builders = [path.read_text().split("\n", 1) for path in seen.glob("*.txt")]
    this = Path("/proc/self/cmdline").read_bytes().replace(b"\0", b" ").decode()
    workers = [(env, parent) for env, parent in builders if parent != this]  # the launcher checks them too
    assert workers, builders
    for env, parent in workers:  # (loky's own workers would be children of qrt-run)
        assert "multiprocessing.forkserver" in parent and "qrt_runner.sweep.preload" in parent, parent
        threads, qiskit_parallel = env.split()
        assert threads != "-" and qiskit_parallel != "-", env  # what loky's own workers get
