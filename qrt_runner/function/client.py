"""The gateway, through qiskit-serverless's ``ServerlessClient``: upload, run, status, logs, result.

Where the gateway is and who you are come from the environment: ``QRT_SERVERLESS_HOST`` and
``QRT_SERVERLESS_TOKEN`` (or the client's own ``ENV_GATEWAY_PROVIDER_HOST`` and
``ENV_GATEWAY_PROVIDER_TOKEN``), ``QRT_SERVERLESS_INSTANCE`` (an IBM Cloud CRN) and
``QRT_SERVERLESS_CHANNEL`` (``ibm_quantum_platform`` with an instance, else ``local``). The token
is never printed: every message that leaves this module has it replaced by ``***``.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Any

from qrt_runner.function.errors import FunctionInputError
from qrt_runner.function.folder import FunctionFolder

__all__ = ["Gateway", "connect", "gateway_settings"]

HOST_VARIABLES = ("QRT_SERVERLESS_HOST", "ENV_GATEWAY_PROVIDER_HOST")
TOKEN_VARIABLES = ("QRT_SERVERLESS_TOKEN", "ENV_GATEWAY_PROVIDER_TOKEN")
INSTANCE_VARIABLE = "QRT_SERVERLESS_INSTANCE"
CHANNEL_VARIABLE = "QRT_SERVERLESS_CHANNEL"
#: The job states after which nothing changes (qiskit-serverless's names).
TERMINAL = ("DONE", "ERROR", "CANCELED")


@dataclass(frozen=True)
class Settings:
    host: str
    token: str
    instance: str | None
    channel: str

    def __repr__(self) -> str:  # the token stays out of tracebacks and logs
        return f"Settings(host={self.host!r}, token='***', instance={self.instance!r}, channel={self.channel!r})"


def gateway_settings(environ: dict[str, str] | None = None) -> Settings:
    """The gateway and credentials from the environment (raises FunctionInputError, one line)."""
    env = os.environ if environ is None else environ
    host = next((env[name] for name in HOST_VARIABLES if env.get(name)), None)
    token = next((env[name] for name in TOKEN_VARIABLES if env.get(name)), None)
    if not host:
        raise FunctionInputError("no gateway: set QRT_SERVERLESS_HOST=<http(s)://host:port> (and QRT_SERVERLESS_TOKEN)")
    if not token:
        raise FunctionInputError(f"no token for {host}: set QRT_SERVERLESS_TOKEN (it is never printed)")
    instance = env.get(INSTANCE_VARIABLE) or None
    channel = env.get(CHANNEL_VARIABLE) or ("ibm_quantum_platform" if instance else "local")
    return Settings(host.rstrip("/"), token, instance, channel)


def connect(environ: dict[str, str] | None = None) -> Gateway:
    """A client of the gateway, its credentials checked (raises FunctionInputError, one line)."""
    settings = gateway_settings(environ)
    try:
        from qiskit_serverless import ServerlessClient
    except ImportError as exc:
        raise FunctionInputError(
            f"qiskit-serverless is not installed ({exc}); pip install 'qrt_runner[serverless]' "
            "(in an environment without the ray extra: README, Experiments as Qiskit Functions)"
        ) from None
    gateway = Gateway(settings, None)
    gateway.client = gateway.call(
        lambda: ServerlessClient(
            host=settings.host, token=settings.token, instance=settings.instance, channel=settings.channel
        ),
        "cannot sign in",
    )
    return gateway


@dataclass
class Gateway:
    """A connected ServerlessClient, whose errors come out as one redacted line."""

    settings: Settings
    client: Any

    def call(self, function, what: str):
        """``function()``, its failures as FunctionInputError naming ``what`` failed."""
        from qiskit_serverless import QiskitServerlessException

        try:
            return function()
        except (QiskitServerlessException, ValueError, TypeError, OSError) as exc:
            raise FunctionInputError(f"gateway {self.settings.host}: {what}: {self.redact(exc)}") from None

    def redact(self, text: Any) -> str:
        """``text`` in one line, the token replaced by ``***``."""
        return " ".join(str(text).replace(self.settings.token, "***").split())

    def upload(self, folder: FunctionFolder) -> str:
        from qiskit_serverless import QiskitFunction

        function = QiskitFunction(**folder.function_fields())
        uploaded = self.call(lambda: self.client.upload(function), f"cannot upload {folder.title}")
        return str(getattr(uploaded, "title", folder.title))

    def run(self, title: str, arguments: dict) -> str:
        function = self.call(lambda: self.client.function(title), f"no function {title} (qrt-run function upload DIR)")
        if function is None:
            raise FunctionInputError(
                f"gateway {self.settings.host}: no function {title}; upload it: qrt-run function upload DIR"
            )
        job = self.call(lambda: function.run(**arguments), f"cannot run {title}")
        return str(job.job_id)

    def job(self, job_id: str):
        job = self.call(lambda: self.client.job(job_id), f"no job {job_id}")
        if job is None:
            raise FunctionInputError(f"gateway {self.settings.host}: no job {job_id}")
        return job

    def status(self, job_id: str) -> str:
        job = self.job(job_id)
        return str(self.call(job.status, f"no status for job {job_id}"))

    def logs(self, job_id: str) -> str:
        job = self.job(job_id)
        return self.redact_lines(self.call(job.logs, f"no logs for job {job_id}"))

    def redact_lines(self, text: Any) -> str:
        return str(text or "").replace(self.settings.token, "***")

    def wait(self, job_id: str, poll_s: float = 2.0) -> str:
        """Poll until the job ends; returns its final status."""
        job = self.job(job_id)
        while True:
            status = str(self.call(job.status, f"no status for job {job_id}"))
            if status in TERMINAL:
                return status
            time.sleep(poll_s)

    def result(self, job_id: str) -> dict:
        """The result a finished (DONE) job saved."""
        job = self.job(job_id)
        data = self.call(lambda: job.result(wait=False), f"no result for job {job_id}")
        if not isinstance(data, dict) or not isinstance(data.get("runs"), list):
            raise FunctionInputError(f"job {job_id}: its result is not a qrt_runner function's ({type(data).__name__})")
        return data

    def error(self, job_id: str) -> str:
        """Why a job ended ERROR, in one line (its last error line in the logs, else the gateway's)."""
        job = self.job(job_id)
        logs = self.call(job.logs, f"no logs for job {job_id}")
        lines = [line for line in str(logs or "").splitlines() if line.strip()]
        for line in reversed(lines):
            if "qrt-run" in line or "Error" in line or "error" in line:
                return self.redact(line)
        return self.redact(lines[-1]) if lines else "no logs"
