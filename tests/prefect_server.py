"""Real Prefect processes for integration tests: a server on a free loopback port and process workers.

Every process gets its own session (process group) so that stopping it also stops what it spawned
(uvicorn, a worker's flow-run subprocesses), and its own log file so a failure can show the tail.
Stopping is always terminate → wait → kill: `ManagedProcess.stop` never leaves a process behind.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from tests.ports import free_ports

REPO = Path(__file__).resolve().parents[1]
PREFECT = str(Path(sys.executable).with_name("prefect"))


def prefect_env(home: Path, api_url: str | None = None, **extra: str) -> dict[str, str]:
    """The environment every Prefect process needs here (STACK.md): own home, offline, no analytics."""
    env = dict(os.environ)
    env.update({
        "PREFECT_HOME": str(home),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "PREFECT_CLI_COLORS": "false",
        "PREFECT_CLI_WRAP_LINES": "false",
    })
    if api_url:
        env["PREFECT_API_URL"] = api_url
    else:
        env.pop("PREFECT_API_URL", None)
    env.update(extra)
    return env


def tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return f"<no log at {path}>"


class ManagedProcess:
    """A long-running command in its own process group with its output in a log file."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], log: Path, cwd: Path = REPO):
        self.name, self.args, self.log = name, args, log
        log.parent.mkdir(parents=True, exist_ok=True)
        self._log_file = open(log, "ab")
        self.proc = subprocess.Popen(args, env=env, cwd=cwd, stdin=subprocess.DEVNULL,
                                     stdout=self._log_file, stderr=subprocess.STDOUT,
                                     start_new_session=True)

    @property
    def running(self) -> bool:
        return self.proc.poll() is None

    def tail(self, lines: int = 40) -> str:
        return f"--- {self.name} ({self.log}) ---\n{tail(self.log, lines)}"

    def _signal_group(self, sig: int) -> None:
        try:
            os.killpg(self.proc.pid, sig)
        except ProcessLookupError:
            pass

    def stop(self, signals: tuple[int, ...] = (signal.SIGINT, signal.SIGINT), grace_s: float = 10.0) -> None:
        """Send each signal in turn to the whole group, waiting `grace_s` after each; then SIGKILL.

        A worker's first SIGINT starts a graceful shutdown that can hang; the second forces it.
        """
        try:
            for sig in signals:
                if not self.running:
                    break
                self._signal_group(sig)
                try:
                    self.proc.wait(grace_s)
                except subprocess.TimeoutExpired:
                    continue
        finally:
            # The leader may be gone while children it spawned still run: kill the group regardless.
            self._signal_group(signal.SIGKILL)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                pass
            self._log_file.close()


class PrefectServer(ManagedProcess):
    """`prefect server start` on 127.0.0.1:<free port> with its own PREFECT_HOME (SQLite inside)."""

    def __init__(self, home: Path, log_dir: Path, port: int | None = None, ui: bool = False):
        self.home = home
        self.port = port or free_ports(1)[0]
        self.api_url = f"http://127.0.0.1:{self.port}/api"
        home.mkdir(parents=True, exist_ok=True)
        args = [PREFECT, "server", "start", "--host", "127.0.0.1", "--port", str(self.port),
                "--ui" if ui else "--no-ui"]
        super().__init__("server", args, prefect_env(home), log_dir / "server.log")

    def env(self, **extra: str) -> dict[str, str]:
        """The environment for clients, deploys and workers that talk to this server."""
        return prefect_env(self.home, self.api_url, **extra)

    def wait_healthy(self, timeout_s: float = 90.0) -> float:
        """Block until GET /api/health answers 200; return the seconds it took."""
        start = time.monotonic()
        while time.monotonic() - start < timeout_s:
            if not self.running:
                raise RuntimeError(f"prefect server exited with {self.proc.returncode}\n{self.tail()}")
            try:
                with urllib.request.urlopen(f"{self.api_url}/health", timeout=2) as resp:
                    if resp.status == 200:
                        return time.monotonic() - start
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.5)
        raise TimeoutError(f"prefect server not healthy after {timeout_s:.0f} s\n{self.tail()}")

    def stop(self, signals: tuple[int, ...] = (signal.SIGTERM,), grace_s: float = 15.0) -> None:
        super().stop(signals, grace_s)


class PrefectWorker(ManagedProcess):
    """`prefect worker start --pool <pool>`: runs each flow run as a subprocess of its own."""

    def __init__(self, pool: str, env: dict[str, str], log_dir: Path, cwd: Path = REPO, name: str = "worker",
                 limit: int | None = None):
        args = [PREFECT, "worker", "start", "--pool", pool, "--name", f"test-{name}-{os.getpid()}",
                *(["--limit", str(limit)] if limit else [])]
        super().__init__(name, args, env, log_dir / f"{name}.log", cwd)


def prefect_cli(args: list[str], env: dict[str, str], cwd: Path = REPO, timeout_s: float = 120.0,
                check: bool = True) -> subprocess.CompletedProcess:
    """Run one `prefect ...` command to completion; on failure raise with its output."""
    # `{{ $PWD }}` in prefect.yaml's pull step is read from the environment, not from the cwd.
    env = {**env, "PWD": str(cwd)}
    try:
        done = subprocess.run([PREFECT, *args], env=env, cwd=cwd, capture_output=True, text=True,
                              timeout=timeout_s, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as exc:
        out = (exc.stdout or b"").decode(errors="replace") if isinstance(exc.stdout, bytes) else exc.stdout
        raise AssertionError(f"`prefect {' '.join(args)}` timed out after {timeout_s:.0f} s\n{out}") from exc
    if check and done.returncode != 0:
        raise AssertionError(f"`prefect {' '.join(args)}` exited {done.returncode}\n"
                             f"{done.stdout[-4000:]}\n{done.stderr[-4000:]}")
    return done
