"""A temporary Prefect API server for one command, that dies with the command however it ends.

With no `PREFECT_API_URL`, Prefect starts a temporary server of its own and stops it at exit, but a
`kill -9` of the command skips that: the server process stays, holding its port and the database.
This is the same server (Prefect's `create_app` under uvicorn, UI off, ephemeral mode), started once
per command, plus a lifeline: the server reads a pipe from the command on its stdin and exits when the
pipe closes, which the kernel does when the command dies in any way (portable, unlike Linux's
PR_SET_PDEATHSIG). A command given an API URL uses it and starts nothing.

    python -m persona_lens.flows.api_server PORT     # what `temporary_api` runs
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

#: Seconds to wait for the server's health check (a cold start imports the whole Prefect server).
STARTUP_TIMEOUT = 120.0
#: What Prefect's own temporary server is started with (prefect.server.api.server.SubprocessASGIServer).
SERVER_ENVIRONMENT = {"PREFECT_UI_ENABLED": "0", "PREFECT__SERVER_EPHEMERAL": "1", "PREFECT__SERVER_FINAL": "1"}


class ApiServerError(RuntimeError):
    """The temporary server did not start."""


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _healthy(url: str) -> bool:
    import httpx

    try:
        return httpx.get(f"{url}/health", timeout=2.0).status_code == 200
    except httpx.HTTPError:
        return False


@contextmanager
def temporary_api(timeout: float = STARTUP_TIMEOUT) -> Iterator[str]:
    """The API URL to run flows against: Prefect's `PREFECT_API_URL` if set (environment, profile or
    settings context), else a temporary server's, set as the API URL inside the block and stopped when
    it ends."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    if PREFECT_API_URL.value():
        yield PREFECT_API_URL.value()
        return
    port = _free_port()
    url = f"http://127.0.0.1:{port}/api"
    process = subprocess.Popen([sys.executable, "-m", "persona_lens.flows.api_server", str(port)],
                               stdin=subprocess.PIPE, env={**os.environ, **SERVER_ENVIRONMENT})
    try:
        deadline = time.monotonic() + timeout
        while not _healthy(url):
            if process.poll() is not None:
                raise ApiServerError(f"the temporary Prefect server exited with code {process.returncode}")
            if time.monotonic() > deadline:
                raise ApiServerError(f"the temporary Prefect server did not answer on {url} within {timeout:.0f} s")
            time.sleep(0.1)
        with temporary_settings(updates={PREFECT_API_URL: url}):
            yield url
    finally:
        _drain_prefect_workers()
        process.stdin.close()          # the lifeline: the server exits when it reads end-of-file
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _drain_prefect_workers() -> None:
    """Send the logs and events Prefect still holds while the server can take them (else its workers
    print "Error logging to API" at exit)."""
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    for service in (APILogWorker, EventsWorker):
        service.drain_all(timeout=5)


def _exit_when_stdin_closes() -> None:
    sys.stdin.buffer.read()            # returns at end-of-file: the command closed the pipe or died
    os._exit(0)


def serve(port: int) -> None:
    """Run Prefect's API on 127.0.0.1:`port` until stdin closes."""
    import uvicorn

    threading.Thread(target=_exit_when_stdin_closes, daemon=True).start()
    uvicorn.run("prefect.server.api.server:create_app", factory=True, host="127.0.0.1", port=port,
                log_level="error", lifespan="on")


if __name__ == "__main__":
    serve(int(sys.argv[1]))
