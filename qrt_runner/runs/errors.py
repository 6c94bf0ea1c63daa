"""Hydra's and OmegaConf's multi-line errors as the one line ``qrt-run`` prints."""

from __future__ import annotations

import difflib
import re


def one_line(exc: BaseException) -> str:
    """Hydra's multi-line composition errors as one line that names the key."""
    text = str(exc)
    clash = re.search(
        r"In '([^']+)/([^']+)': \w+ raised while composing config:\s+Key '([^']+)' not in '(\w+)'\s+full_key: (\S+)",
        text,
    )
    if clash:
        group, option, _, schema, full_key = clash.groups()
        where = f"{group}={option}"
        top = full_key.split(".")[0]
        if schema == "RootConfig":
            return (
                f"{where} sets {full_key}, which is not a config key; keys go under their group "
                f"(e.g. circuit: num_qubits: 4); fix the {group} file"
            )
        return (
            f"{where} sets {full_key}, which the chosen {top} option ({schema}) does not have; drop your "
            f"{top}=... override to keep the {group}'s own {top}, or remove {full_key} from the {group} file"
        )
    unknown = re.search(r"Key '([^']+)' is not in struct\s+full_key: (\S+)", text)
    if unknown:
        return f"{unknown.group(2)}: unknown key; check its spelling (qrt-run --cfg job lists every key)"
    missing = _missing_option(exc, text)
    if missing is not None:
        return missing
    if text.startswith("Error merging override") and exc.__cause__ is not None:
        return str(config_error(exc.__cause__))
    override = re.match(r"Could not override '([^']+)'", text)
    if override:
        return f"{override.group(1)}: unknown key; check its spelling (qrt-run --cfg job lists every key)"
    return " ".join(part.strip() for part in text.splitlines() if part.strip()) or type(exc).__name__


def _missing_option(exc: BaseException, text: str) -> str | None:
    """An option that is not in its group (Hydra's MissingConfigException names it and the
    group's options), with the choices or the closest names."""
    from hydra.errors import MissingConfigException

    if not isinstance(exc, MissingConfigException) or not exc.missing_cfg_file or "/" not in exc.missing_cfg_file:
        return None
    group, _, name = exc.missing_cfg_file.rpartition("/")
    from qrt_runner.config.experiments import BROKEN

    if group == "experiment" and name in BROKEN:
        return f"experiment={name}: cannot read {BROKEN[name]}; fix the file"
    options = [o for o in (exc.options or []) if not o.startswith("base_") and not o.startswith("_")]
    if len(options) > 12:
        close = difflib.get_close_matches(name, options, n=3)
        hint = f"did you mean {' or '.join(close)}? " if close else ""
        return f"{group}={name}: no such option; {hint}({len(options)} options: qrt-run --help lists them)"
    return (
        f"{group}={name}: no such option; choose one of {', '.join(options)}"
        if options
        else f"{group}={name}: no such option"
    )


def invalid_config_text(exc: BaseException) -> str:
    """The one line after ``qrt-run: invalid config:`` for a ConfigError, a Hydra composition
    error or an OmegaConf error (anything else: its text)."""
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    if isinstance(exc, HydraException):
        return one_line(exc)
    if isinstance(exc, OmegaConfBaseException):
        return str(config_error(exc))
    return str(exc)


def config_error(exc: BaseException):
    """An OmegaConf error (an unknown key, a value of the wrong type) as a ConfigError naming the key."""
    from qrt_runner.errors import ConfigError

    key = getattr(exc, "full_key", None) or "config"
    message = str(getattr(exc, "msg", None) or exc).splitlines()[0].strip()
    if "not in" in message or "not in struct" in message:
        return ConfigError(
            key, None, "unknown key", "check its spelling (qrt-run <overrides> --cfg job lists every key)"
        )
    value = getattr(exc, "value", None)
    return ConfigError(
        key, value, message, f"give {key} a value of the type its default has (qrt-run --cfg job shows it)"
    )
