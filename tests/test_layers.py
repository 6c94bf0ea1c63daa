"""The layers' rules: the library below the config (primitives, mitigation, simulation, the
runtime drop-in) imports neither Hydra nor OmegaConf."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from conftest import HANG_S


def test_the_core_imports_neither_hydra_nor_omegaconf():
    code = (
        "import sys\n"
        "import qrt_runner.primitives.estimator, qrt_runner.primitives.sampler, qrt_runner.mitigation.options\n"
        "import qrt_runner.execution.simulation.executor, qrt_runner.execution.simulation.task, qrt_runner.execution.backend, qrt_runner.execution.modes\n"
        "import qrt_runner.runtime, qrt_runner.config.schema\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'hydra', 'omegaconf'}))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=HANG_S)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


# Low to high: a module may import its own layer and the layers below it, never one above
# (imports under ``if TYPE_CHECKING:`` are annotations only and do not count).
LAYERS = [
    (
        "qrt_runner.errors",
        "qrt_runner.registry",
        "qrt_runner.interrupts",
        "qrt_runner.config.schema",
        "qrt_runner._build_info",
        "qrt_runner.memory",
        "qrt_runner.background",
    ),
    ("qrt_runner.workload",),
    ("qrt_runner.execution",),
    ("qrt_runner.mitigation",),
    ("qrt_runner.primitives",),
    (
        "qrt_runner.config.spec",
        "qrt_runner.config.objective",
        "qrt_runner.config.ignored",
        "qrt_runner.config.workload_checks",
        "qrt_runner.config.placement",
    ),
    ("qrt_runner.records",),
    ("qrt_runner.tasks", "qrt_runner.runtime"),
    ("qrt_runner.tracking",),
    ("qrt_runner.reproduce", "qrt_runner.config"),
    ("qrt_runner.cli", "qrt_runner.sweep"),  # the CLI, and the Hydra callback that runs in it
]
PACKAGE = Path(__file__).resolve().parents[1] / "qrt_runner"


def _layer(module: str) -> int | None:
    best = None
    for level, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and (best is None or len(prefix) > best[1]):
                best = (level, len(prefix))
    return None if best is None else best[0]


def _imports(path: Path) -> list[tuple[str, list[str], int]]:
    """(module, names, line) of every qrt_runner import in a file, outside ``if TYPE_CHECKING:``."""
    tree = ast.parse(path.read_text())
    skipped = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped.update(id(child) for stmt in node.body for child in ast.walk(stmt))
    found = []
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("qrt_runner"):
            for alias in node.names:  # "from qrt_runner.x import module" imports the module
                submodule = f"{node.module}.{alias.name}"
                is_module = (PACKAGE.parent / submodule.replace(".", "/")).with_suffix(".py").exists()
                found.append((submodule if is_module else node.module, [alias.name], node.lineno))
        elif isinstance(node, ast.Import):
            found += [(alias.name, [], node.lineno) for alias in node.names if alias.name.startswith("qrt_runner")]
    return found


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def test_lower_layers_never_import_higher_ones_nor_private_names():
    problems = []
    for path in sorted(PACKAGE.rglob("*.py")):
        module = _module_name(path)
        if module == "qrt_runner":
            continue  # the package's own __init__ (version only)
        own = _layer(module)
        assert own is not None, f"{module} is in no layer: add its folder to LAYERS"
        for imported, names, line in _imports(path):
            other = _layer(imported)
            if other is not None and other > own:
                problems.append(f"{module}:{line} imports {imported} (a higher layer)")
            private = [n for n in names if n.startswith("_") and not n.startswith("__")]
            if private and not imported.startswith(module.rpartition(".")[0] or module):
                problems.append(f"{module}:{line} imports private {private} from {imported}")
    assert not problems, "\n".join(problems)
