"""Run many ``qrt-run`` command lines in one Python process (the CLI's own ``main``).

Used by the bad-input corpus and the replay tests: starting a process per case would cost seconds
each. Reads a JSON list of ``{"args": [...], "files": {name: text or null}, "cwd": folder,
"remove": [paths]}`` on stdin; for each, in ``cwd`` (default: a fresh empty folder; ``files``
written first, ``null`` making a folder and text starting with ``b64:`` binary bytes; ``remove``
deleted first), calls ``main(args)`` with stdout and stderr captured, and prints one JSON line per
case: the exit code, stdout, stderr, whether anything uncaught escaped (its traceback), and what is
left in a fresh folder.
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import os
import shutil
import sys
import tempfile
import traceback
from pathlib import Path


def _run(case: dict) -> dict:
    from hydra.core.config_store import ConfigStore

    from qrt_runner.cli.app import main
    from qrt_runner.config import experiments
    from qrt_runner.runs import outcome

    with tempfile.TemporaryDirectory() as scratch:
        folder = case.get("cwd") or scratch
        Path(folder).mkdir(parents=True, exist_ok=True)
        os.chdir(folder)
        for name in case.get("remove") or []:
            target = Path(folder) / name
            shutil.rmtree(target) if target.is_dir() else target.unlink(missing_ok=True)
            sys.modules.pop(Path(name).stem, None)
        for name, text in (case.get("files") or {}).items():
            path = Path(folder) / name
            path.parent.mkdir(parents=True, exist_ok=True)
            if text is None:
                path.mkdir()
            elif text.startswith("b64:"):
                path.write_bytes(base64.b64decode(text[4:]))
            else:
                path.write_text(text)
        ConfigStore.instance().repo.get("experiment", {}).clear()  # this folder's ./experiments
        experiments.BROKEN.clear()
        experiments.register_experiments()
        outcome._CURRENT = outcome.Outcome()
        stdout, stderr, escaped, code = io.StringIO(), io.StringIO(), None, None
        with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(stdout):
            try:
                main(case["args"])
            except SystemExit as exc:
                code = exc.code
            except BaseException:  # noqa: BLE001 - reported to the test
                escaped = traceback.format_exc()
        given = {Path(name) for name in case.get("files") or {}}
        given |= {parent for name in given for parent in name.parents}
        left = (
            []
            if case.get("cwd")
            else sorted(
                str(p.relative_to(folder)) for p in Path(folder).rglob("*") if p.relative_to(folder) not in given
            )
        )
        os.chdir("/")
    return {"code": code, "stdout": stdout.getvalue(), "stderr": stderr.getvalue(), "escaped": escaped, "left": left}


if __name__ == "__main__":
    sys.path.insert(0, os.getcwd())
    for case in json.loads(sys.stdin.read()):
        print(json.dumps(_run(case)), flush=True)
