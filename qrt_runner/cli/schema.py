"""``qrt-run schema [--out FILE]``: the config's JSON Schema, for editors."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from qrt_runner.runs import outcome

USAGE = """qrt-run schema [--out FILE]

Prints the JSON Schema of qrt_runner's config (draft 2020-12): every key of every config group's
options, its type, its range or allowed values, and its default; with --out, writes it to FILE.
Editors use it to complete and check experiment YAML files: with VS Code's YAML extension
(redhat.vscode-yaml), write it once (qrt-run schema --out .vscode/qrt-config.schema.json) and add
to .vscode/settings.json:
  "yaml.schemas": {"./.vscode/qrt-config.schema.json": ["experiments/*.yaml"]}
or put "# yaml-language-server: $schema=<path to the file>" on the first line of a YAML file.
Exit codes: 0 written, 2 invalid input."""


def schema_command(args: list[str]) -> int:
    """Run ``qrt-run schema``; returns the exit code."""
    if "-h" in args or "--help" in args:
        print(USAGE)
        return outcome.EXIT_OK
    out: Path | None = None
    rest = list(args)
    if rest[:1] == ["--out"] and len(rest) == 2:
        out = Path(rest[1])
    elif len(rest) == 1 and rest[0].startswith("--out="):
        out = Path(rest[0].partition("=")[2])
    elif rest:
        print(f"qrt-run: invalid input: {' '.join(rest)}: qrt-run schema takes only --out FILE", file=sys.stderr)
        return outcome.EXIT_INVALID
    from qrt_runner.config.json_schema import config_json_schema

    text = json.dumps(config_json_schema(), indent=2) + "\n"
    if out is None:
        sys.stdout.write(text)
        return outcome.EXIT_OK
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        partial = out.with_name(out.name + ".partial")
        partial.write_text(text)
        partial.replace(out)
    except OSError as exc:
        print(
            f"qrt-run: invalid input: --out {out}: cannot write it ({exc.strerror}); give a writable path",
            file=sys.stderr,
        )
        return outcome.EXIT_INVALID
    print(f"qrt-run: wrote the config's JSON Schema to {out}", file=sys.stderr)
    return outcome.EXIT_OK
