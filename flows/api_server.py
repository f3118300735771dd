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
#: What Prefect's own temporary server is started with (prefect.server.api.server.SubprocessASGIServer),
#: and no telemetry (it would try to reach the internet from a server that lives for one command).
SERVER_ENVIRONMENT = {"PREFECT_UI_ENABLED": "0", "PREFECT__SERVER_EPHEMERAL": "1", "PREFECT__SERVER_FINAL": "1",
                      "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}

#: A server started by `start_early` that `temporary_api` has not adopted yet: (process, port).
_early: tuple[subprocess.Popen, int] | None = None


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


def _spawn(port: int) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "persona_lens.flows.api_server", str(port)],
                            stdin=subprocess.PIPE, env={**os.environ, **SERVER_ENVIRONMENT})


def _stop(process: subprocess.Popen) -> None:
    process.stdin.close()          # the lifeline: the server exits when it reads end-of-file
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def start_early() -> None:
    """Start the temporary server now, before the command line imports the stages, so that its own
    start (importing Prefect's server: 5-10 s here) overlaps theirs; `temporary_api` adopts it. Only
    when the environment names no API URL: a profile's URL is known only once Prefect is imported, and
    then `temporary_api` stops the early server unused. One never adopted (`--help`, a bad option)
    exits with the command, by the same lifeline."""
    global _early
    if _early is None and not os.environ.get("PREFECT_API_URL"):
        port = _free_port()
        _early = (_spawn(port), port)


def _take_early() -> tuple[subprocess.Popen, int] | None:
    global _early
    early, _early = _early, None
    return early


@contextmanager
def temporary_api(timeout: float = STARTUP_TIMEOUT) -> Iterator[str]:
    """The API URL to run flows against: Prefect's `PREFECT_API_URL` if set (environment, profile or
    settings context), else a temporary server's, set as the API URL inside the block and stopped when
    it ends."""
    from prefect.settings import PREFECT_API_URL, PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

    early = _take_early()
    if PREFECT_API_URL.value():
        if early is not None:
            _stop(early[0])
        yield PREFECT_API_URL.value()
        return
    if early is None:
        port = _free_port()
        early = (_spawn(port), port)
    process, port = early
    url = f"http://127.0.0.1:{port}/api"
    try:
        deadline = time.monotonic() + timeout
        while not _healthy(url):
            if process.poll() is not None:
                raise ApiServerError(f"the temporary Prefect server exited with code {process.returncode}")
            if time.monotonic() > deadline:
                raise ApiServerError(f"the temporary Prefect server did not answer on {url} within {timeout:.0f} s")
            time.sleep(0.1)
        # No flow-run heartbeats against a server that lives only as long as this command: nothing there
        # watches for crashed runs, and Prefect's heartbeat thread sleeps in whole seconds, so joining it
        # cost every flow and subflow up to 1 s at exit (13 s of a 16 s no-op main job).
        with temporary_settings(updates={PREFECT_API_URL: url, PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
            yield url
    finally:
        _drain_prefect_workers()
        _stop(process)


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
