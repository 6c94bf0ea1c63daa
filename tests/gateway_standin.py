"""A local stand-in for a Qiskit Serverless gateway (the routes qiskit-serverless 0.37's
``ServerlessClient`` and a running function call), on 127.0.0.1, for the tests.

A real gateway needs Docker (its database, Ray cluster and Kubernetes), which these machines lack.
The routes, payloads and checks mimic the gateway's (``gateway/api/v1/views`` of
Qiskit/qiskit-serverless): Bearer-token auth on every route; ``programs/upload/`` (multipart:
title, entrypoint, dependencies as JSON, the working folder as a tar ``artifact``; each dependency
one ``==`` pin, and in the administrator's allowed list when one is given); ``programs/get_by_title/
<title>``; ``programs/run/`` (JSON: title, arguments as a JSON string); ``jobs/<id>/`` (status,
sub_status), ``jobs/<id>/result/``, ``jobs/<id>/logs/``, ``jobs/<id>/events/``, and the function's
``PATCH jobs/<id>/sub_status/`` (only the gateway's running sub-statuses, only while RUNNING).

A job runs as the gateway's Ray runner starts it: the artifact unpacked into a fresh folder,
``python <entrypoint>`` there (with the ``python`` given: an environment holding qiskit-serverless
and the function's dependencies), ``ARGUMENTS_PATH`` naming the arguments file, ``RESULTS_PATH``
where ``save_result`` writes, and ``ENV_JOB_GATEWAY_HOST``/``ENV_JOB_ID_GATEWAY``/
``ENV_JOB_GATEWAY_TOKEN`` for ``update_status``. The server stops when its ``with`` block ends.
"""

from __future__ import annotations

import email.parser
import email.policy
import io
import json
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

RUNNING_SUB_STATUSES = ("MAPPING", "OPTIMIZING_HARDWARE", "WAITING_QPU", "EXECUTING_QPU", "POST_PROCESSING")
_PIN = re.compile(r"^([A-Za-z0-9_.\-\[\]]+)==([A-Za-z0-9_.+\-]+)$")


class GatewayStandIn:
    """``with GatewayStandIn(token, python) as gateway:`` serves on ``gateway.url``."""

    def __init__(self, token: str, python: str, allowed: dict[str, str] | None = None, env: dict | None = None):
        self.token, self.python, self.allowed, self.env = token, python, allowed, dict(env or {})
        self.programs: dict[str, dict] = {}
        self.jobs: dict[str, dict] = {}
        self.requests: list[tuple[str, str]] = []  # (method, path), in order
        self.lock = threading.Lock()
        self.root = Path(tempfile.mkdtemp(prefix="gateway-standin-"))
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> GatewayStandIn:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
        for job in list(self.jobs.values()):
            if job.get("thread") is not None:
                job["thread"].join(timeout=120)
        shutil.rmtree(self.root, ignore_errors=True)

    # programs
    def upload(self, fields: dict, artifact: bytes) -> tuple[int, dict]:
        dependencies = json.loads(fields.get("dependencies") or "[]")
        for dependency in dependencies:
            match = _PIN.match(dependency)
            if not match:
                return 400, {"dependencies": ["'dependencies' needs one fixed version using the '==' operator."]}
            name, version = match.groups()
            if self.allowed is not None and self.allowed.get(name) != version:
                return 400, {"dependencies": [f"Dependency `{name}` is not allowed."]}
        if not fields.get("title") or not fields.get("entrypoint"):
            return 400, {"message": "At least one of attributes (entrypoint, image) is required."}
        program = {
            "id": str(uuid.uuid4()),
            "title": fields["title"],
            "provider": None,
            "entrypoint": fields["entrypoint"],
            "dependencies": dependencies,
            "description": fields.get("description"),
            "version": fields.get("version"),
            "arguments_schema": fields.get("arguments_schema"),
            "type": "GENERIC",
        }
        folder = self.root / "artifacts" / program["id"]
        folder.mkdir(parents=True)
        (folder / "artifact.tar").write_bytes(artifact)
        with self.lock:
            self.programs[program["title"]] = program
        return 200, program

    # jobs
    def run(self, body: dict) -> tuple[int, dict]:
        program = self.programs.get(body.get("title"))
        if program is None:
            return 404, {"message": f"Qiskit Function {body.get('title')} doesn't exist."}
        job = {"id": str(uuid.uuid4()), "status": "QUEUED", "sub_status": None, "program": program}
        job.update(result=None, logs="", sub_statuses=[], arguments=body.get("arguments") or "{}")
        with self.lock:
            self.jobs[job["id"]] = job
        job["thread"] = threading.Thread(target=self._execute, args=(job,), daemon=True)
        job["thread"].start()
        return 200, self.public(job)

    def public(self, job: dict) -> dict:
        program = {key: job["program"][key] for key in ("id", "title", "provider")}
        return {"id": job["id"], "status": job["status"], "sub_status": job["sub_status"], "program": program}

    def _execute(self, job: dict) -> None:
        work = self.root / "jobs" / job["id"]
        work.mkdir(parents=True)
        with tarfile.open(self.root / "artifacts" / job["program"]["id"] / "artifact.tar") as tar:
            tar.extractall(work, filter="data")
        arguments = self.root / "jobs" / f"{job['id']}.arguments.json"
        arguments.write_text(job["arguments"])
        results = self.root / "jobs" / f"{job['id']}.results" / "result.json"
        env = {key: value for key, value in os.environ.items() if not key.startswith(("PYTHON", "VIRTUAL_ENV"))}
        env.update(self.env)
        env.update(
            ARGUMENTS_PATH=str(arguments),
            RESULTS_PATH=str(results),
            ENV_JOB_GATEWAY_HOST=self.url,
            ENV_JOB_ID_GATEWAY=job["id"],
            ENV_JOB_GATEWAY_TOKEN=self.token,
        )
        job["status"] = "RUNNING"
        proc = subprocess.run(
            [self.python, job["program"]["entrypoint"]],
            cwd=work,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=600,
            check=False,
        )
        job["logs"] = proc.stdout
        job["returncode"] = proc.returncode
        if proc.returncode == 0 and results.is_file():
            job["result"] = results.read_text()
            job["status"] = "SUCCEEDED"
        else:
            job["status"] = "FAILED"
        job["sub_status"] = None


def _handler(gateway: GatewayStandIn):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:  # quiet
            pass

        def _reply(self, code: int, data) -> None:
            body = json.dumps(data).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _body(self) -> bytes:
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))

        def _route(self, method: str) -> None:
            path = urlparse(self.path).path
            gateway.requests.append((method, path))
            if self.headers.get("Authorization") != f"Bearer {gateway.token}":
                body = self._body()
                del body
                return self._reply(401, {"detail": "Authentication credentials were not provided or are invalid."})
            parts = [part for part in path.split("/") if part][2:]  # after api/v1
            try:
                code, data = self._dispatch(method, parts)
            except Exception as exc:  # noqa: BLE001 - a stand-in bug shows as a 500
                code, data = 500, {"message": f"{type(exc).__name__}: {exc}"}
            self._reply(code, data)

        def _dispatch(self, method: str, parts: list[str]):
            if method == "GET" and parts == ["programs"]:
                return 200, list(gateway.programs.values())
            if method == "POST" and parts == ["programs", "upload"]:
                fields, files = _multipart(self.headers.get("Content-Type", ""), self._body())
                return gateway.upload(fields, files.get("artifact", b""))
            if method == "GET" and parts[:2] == ["programs", "get_by_title"] and len(parts) == 3:
                program = gateway.programs.get(parts[2])
                return (200, program) if program else (404, {"message": f"Qiskit Function {parts[2]} doesn't exist."})
            if method == "POST" and parts == ["programs", "run"]:
                return gateway.run(json.loads(self._body() or b"{}"))
            if parts[:1] == ["jobs"] and len(parts) >= 2:
                job = gateway.jobs.get(parts[1])
                if job is None:
                    return 404, {"message": f"Job [{parts[1]}] not found"}
                return self._job(method, job, parts[2:])
            return 404, {"message": f"no route {method} {'/'.join(parts)}"}

        def _job(self, method: str, job: dict, rest: list[str]):
            if method == "GET" and not rest:
                with_result = parse_qs(urlparse(self.path).query).get("with_result", ["true"])[0] == "true"
                return 200, {**gateway.public(job), **({"result": job["result"]} if with_result else {})}
            if method == "GET" and rest == ["result"]:
                return 200, {"result": job["result"]}
            if method == "GET" and rest == ["logs"]:
                return 200, {"logs": job["logs"]}
            if method == "GET" and rest == ["events"]:
                return 200, []
            if method == "PATCH" and rest == ["sub_status"]:
                sub_status = parse_qs(self._body().decode()).get("sub_status", [None])[0]
                if sub_status not in RUNNING_SUB_STATUSES:
                    return 400, {"message": "'sub_status' not provided or is not valid"}
                if job["status"] != "RUNNING":
                    return 403, {
                        "message": f"Cannot update 'sub_status' when is not in active status. ({job['status']})"
                    }
                job["sub_status"] = sub_status
                job["sub_statuses"].append(sub_status)
                return 200, {"message": "Sub status updated correctly"}
            return 404, {"message": f"no route {method} jobs/{job['id']}/{'/'.join(rest)}"}

        def do_GET(self) -> None:
            self._route("GET")

        def do_POST(self) -> None:
            self._route("POST")

        def do_PATCH(self) -> None:
            self._route("PATCH")

    return Handler


def _multipart(content_type: str, body: bytes) -> tuple[dict[str, str], dict[str, bytes]]:
    """The text fields and files of a multipart/form-data body."""
    message = email.parser.BytesParser(policy=email.policy.HTTP).parse(
        io.BytesIO(f"Content-Type: {content_type}\r\n\r\n".encode() + body)
    )
    fields, files = {}, {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True) or b""
        if part.get_filename():
            files[name] = payload
        else:
            fields[name] = payload.decode()
    return fields, files
