"""Hydra's and OmegaConf's multi-line errors as the one line ``qrt-run`` prints."""

from __future__ import annotations

import difflib
import re


def one_line(exc: BaseException) -> str:
    """Hydra's multi-line composition errors as one line that names the key."""
    text = str(exc)
    unknown = re.search(r"Key '([^']+)' is not in struct\s+full_key: (\S+)", text)
    if unknown:
        return f"{unknown.group(2)}: unknown key; check its spelling (qrt-run --cfg job lists every key)"
    missing = re.search(r"Could not find '([^']+)/([^'/]+)'", text)
    if missing:
        group, name = missing.groups()
        options = re.findall(r"^\t(\S+)$", text.split("Config search path")[0], flags=re.M)
        options = [o for o in options if not o.startswith("base_")]
        if len(options) > 12:
            close = difflib.get_close_matches(name, options, n=3)
            hint = f"did you mean {' or '.join(close)}? " if close else ""
            return f"{group}={name}: no such option; {hint}({len(options)} options: qrt-run --help lists them)"
        return f"{group}={name}: no such option; choose one of {', '.join(options)}" if options else f"{group}={name}: no such option"
    override = re.match(r"Could not override '([^']+)'", text)
    if override:
        return f"{override.group(1)}: unknown key; check its spelling (qrt-run --cfg job lists every key)"
    return " ".join(part.strip() for part in text.splitlines() if part.strip()) or type(exc).__name__
