"""Draw qrt_runner's layers as a Mermaid graph in the README (``make deps``).

The layers are import-linter's contract in ``pyproject.toml`` (what ``make lint`` enforces); an
arrow says that a layer imports from a lower one, as grimp (import-linter's import graph) finds it,
imports inside functions included, ``if TYPE_CHECKING:`` imports left out. The graph goes between
the README's ``<!-- layers:start -->`` and ``<!-- layers:end -->`` lines; ``--check`` only says
whether it is up to date (exit 1 if not).
"""

from __future__ import annotations

import argparse
import re
import sys
import tomllib
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parents[1]
START, END = "<!-- layers:start -->", "<!-- layers:end -->"


def layers() -> list[list[str]]:
    """The contract's layers, top first, each a list of modules."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    contract = next(c for c in config["contracts"] if c["type"] == "layers")
    return [[m.strip() for m in re.split(r"[:|]", layer)] for layer in contract["layers"]]


def _short(module: str) -> str:
    return module.removeprefix("qrt_runner.")


def mermaid() -> str:
    """The graph: one box per layer (its modules), an arrow from each layer to each lower one it imports."""
    graph = grimp.build_graph("qrt_runner", exclude_type_checking_imports=True)
    found = layers()
    members = []
    for modules in found:
        names = set()
        for module in modules:
            names |= {module} | graph.find_descendants(module)
        members.append(names)
    lines = ["```mermaid", "flowchart TD"]
    for number, modules in enumerate(found):
        label = "<br/>".join(_short(m) for m in modules)
        lines.append(f'    L{number}["{label}"]')
    for high, importers in enumerate(members):
        for low in range(high + 1, len(members)):
            if any(graph.find_modules_directly_imported_by(importer) & members[low] for importer in importers):
                lines.append(f"    L{high} --> L{low}")
    lines.append("```")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the README's graph is out of date")
    args = parser.parse_args()
    readme = ROOT / "README.md"
    text = readme.read_text()
    if START not in text or END not in text:
        print(f"README.md has no {START} ... {END} block", file=sys.stderr)
        return 2
    before, rest = text.split(START, 1)
    _, after = rest.split(END, 1)
    updated = f"{before}{START}\n{mermaid()}\n{END}{after}"
    if args.check:
        if updated != text:
            print("README.md's layer graph is out of date: run make deps", file=sys.stderr)
            return 1
        return 0
    readme.write_text(updated)
    print("README.md: layer graph written")
    return 0


if __name__ == "__main__":
    sys.exit(main())
