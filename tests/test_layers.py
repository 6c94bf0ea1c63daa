"""The layers' rules (the layers themselves are import-linter's contract in pyproject.toml, checked
by make lint): the library below the config imports neither Hydra nor OmegaConf, no module imports
another package's private names, and no two files import each other, even inside functions."""

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


PACKAGE = Path(__file__).resolve().parents[1] / "qrt_runner"


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


def _import_graph() -> dict[str, set[str]]:
    """Module -> the qrt_runner modules it imports (anywhere in it, outside ``if TYPE_CHECKING:``)."""
    modules = {_module_name(path): path for path in PACKAGE.rglob("*.py")}

    def known(name: str) -> str | None:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    return {
        module: {found for imported, _, _ in _imports(path) if (found := known(imported)) not in (None, module)}
        for module, path in modules.items()
    }


def test_no_private_names_are_imported_from_other_packages():
    problems = []
    for path in sorted(PACKAGE.rglob("*.py")):
        module = _module_name(path)
        for imported, names, line in _imports(path):
            private = [n for n in names if n.startswith("_") and not n.startswith("__")]
            if private and not imported.startswith(module.rpartition(".")[0] or module):
                problems.append(f"{module}:{line} imports private {private} from {imported}")
    assert not problems, "\n".join(problems)


def test_no_import_circle_between_files():
    """Not even through imports inside functions (import-linter's contracts, in make lint, check
    the layers; this checks every file against every other)."""
    graph = _import_graph()
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    circles = []

    def visit(module: str) -> None:  # Tarjan's strongly connected components
        index[module] = low[module] = len(index)
        stack.append(module)
        for other in graph[module]:
            if other not in index:
                visit(other)
                low[module] = min(low[module], low[other])
            elif other in stack:
                low[module] = min(low[module], index[other])
        if low[module] == index[module]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == module:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for module in graph:
        if module not in index:
            visit(module)
    assert not circles, f"import circles: {circles}"


def test_the_layer_contract_fails_an_upward_import(tmp_path):
    """make lint's import-linter contract: kept by the package, broken by one import from the
    bottom layer up to the command line."""
    import shutil

    copy = tmp_path / "qrt_runner"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(PACKAGE.parent / "pyproject.toml", tmp_path)
    lint = [str(Path(sys.executable).with_name("lint-imports")), "--no-cache"]
    env = {"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"}
    kept = subprocess.run(lint, cwd=tmp_path, capture_output=True, text=True, timeout=HANG_S, env=env)
    assert kept.returncode == 0, kept.stdout + kept.stderr
    errors = copy / "errors.py"
    errors.write_text(errors.read_text() + "\n\ndef _upward():\n    from qrt_runner.cli import app  # noqa\n")
    broken = subprocess.run(lint, cwd=tmp_path, capture_output=True, text=True, timeout=HANG_S, env=env)
    assert broken.returncode != 0
    assert "qrt_runner.errors -> qrt_runner.cli" in broken.stdout


def test_every_module_is_in_a_layer_of_the_contract():
    import re
    import tomllib

    config = tomllib.loads((PACKAGE.parent / "pyproject.toml").read_text())["tool"]["importlinter"]
    contract = next(c for c in config["contracts"] if c["type"] == "layers")
    listed = [m.strip() for layer in contract["layers"] for m in re.split(r"[:|]", layer)]
    packages_only = {"qrt_runner", "qrt_runner.config"}  # their __init__ holds no code
    missing = [
        module
        for module in sorted(_module_name(path) for path in PACKAGE.rglob("*.py"))
        if module not in packages_only and not any(module == m or module.startswith(m + ".") for m in listed)
    ]
    assert not missing, f"not in any layer of pyproject.toml's import-linter contract: {missing}"
