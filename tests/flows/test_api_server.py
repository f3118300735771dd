"""The temporary Prefect API server of a command: started once, stopped at the end, gone after a kill -9."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from persona_lens.flows import api_server
from persona_lens.flows.api_server import _healthy, temporary_api


def _gone(url: str, within: float = 20.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if not _healthy(url):
            return True
        time.sleep(0.2)
    return False


def test_a_temporary_server_answers_inside_the_block_and_stops_after_it(monkeypatch):
    from prefect.settings import PREFECT_API_URL, PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    with temporary_settings(restore_defaults={PREFECT_API_URL}), temporary_api() as url:
        assert _healthy(url)
        assert PREFECT_API_URL.value() == url      # flows inside the block use it
        # Nothing watches a temporary server for crashed runs: no heartbeat thread to join after each flow.
        assert PREFECT_FLOWS_HEARTBEAT_FREQUENCY.value() is None
    assert _gone(url, within=10)
    assert PREFECT_FLOWS_HEARTBEAT_FREQUENCY.value() is not None


def test_the_server_dies_with_a_command_killed_by_sigkill():
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    code = ("import time\nfrom persona_lens.flows.api_server import temporary_api\n"
            "with temporary_api() as url:\n    print(url, flush=True)\n    time.sleep(600)\n")
    command = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, env=env)
    try:
        url = command.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:") and _healthy(url)
        command.send_signal(signal.SIGKILL)          # no atexit, no finally: only the pipe closes
        command.wait(timeout=10)
        assert _gone(url), "the temporary server outlived the killed command"
    finally:
        if command.poll() is None:
            command.kill()


def test_a_configured_api_url_starts_no_server(monkeypatch):
    from prefect.settings import PREFECT_API_URL, PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

    monkeypatch.setattr(api_server.subprocess, "Popen", lambda *a, **k: pytest.fail("a server was started"))
    with temporary_settings(updates={PREFECT_API_URL: "http://127.0.0.1:1/api"}), temporary_api() as url:
        assert url == "http://127.0.0.1:1/api"
        assert PREFECT_FLOWS_HEARTBEAT_FREQUENCY.value() is not None    # a real server's runs keep theirs


class _Started(Exception):
    pass


def _refuse(*args, **kwargs):
    raise _Started


def test_commands_that_run_flows_start_one_and_help_and_sql_start_none(monkeypatch, tmp_path):
    from persona_lens.flows import cli

    monkeypatch.setattr(api_server, "temporary_api", _refuse)
    runner = CliRunner()
    for args in (["ingest", "--help"], ["world", "make", "--help"], ["sql", "select 1", "--root", str(tmp_path)]):
        result = runner.invoke(cli.app, args)
        assert result.exit_code == 0, (args, result.output)
    for args in (["ingest", str(tmp_path), "--root", str(tmp_path / "root")], ["world", "make", "--out", str(tmp_path)],
                 ["eval-explain", "--photos", "0"]):
        assert isinstance(runner.invoke(cli.app, args).exception, _Started), args


def test_every_command_but_sql_is_wrapped():
    from persona_lens.flows import cli

    commands = [*cli.app.registered_commands, *cli.world_app.registered_commands]
    unwrapped = [c.callback.__name__ for c in commands if c.callback.__code__.co_name != "run_with_api"]
    assert unwrapped == ["sql"]


@pytest.mark.slow      # ~70 s: CI runs it in its slow pass
def test_a_long_ingest_ends_without_shutdown_noise(tmp_path):
    # Thousands of task-run events and log lines are still queued when the flow ends: they are sent
    # before the temporary server stops (else "Error logging to API" and CancelledError walls at exit).
    from tests.images_factory import photo_bytes

    for i in range(3):
        (tmp_path / f"i{i}.jpg").write_bytes(photo_bytes(i))
    rows = [f"i{i % 3}.jpg,c{i % 7}" for i in range(6000)]
    (tmp_path / "big.csv").write_text("path,category\n" + "\n".join(rows) + "\n")
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    cli = str(Path(sys.executable).with_name("persona-lens"))
    done = subprocess.run([cli, "ingest", str(tmp_path / "big.csv"), "--root", str(tmp_path / "root")],
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    for noise in ("Traceback", "CancelledError", "Error logging to API", "Starting temporary server"):
        assert noise not in done.stderr, f"{noise!r} in:\n{done.stderr[-3000:]}"


def test_a_server_started_early_is_the_one_the_command_uses(monkeypatch):
    from prefect.settings import PREFECT_API_URL, temporary_settings

    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    api_server.start_early()
    early, port = api_server._early
    with temporary_settings(restore_defaults={PREFECT_API_URL}), temporary_api() as url:
        assert url == f"http://127.0.0.1:{port}/api" and early.poll() is None
    assert api_server._early is None and early.wait(timeout=10) == 0


def test_an_early_server_is_stopped_unused_when_an_api_url_turns_out_configured(monkeypatch):
    from prefect.settings import PREFECT_API_URL, temporary_settings

    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    api_server.start_early()
    early, _ = api_server._early
    with temporary_settings(updates={PREFECT_API_URL: "http://127.0.0.1:1/api"}), temporary_api() as url:
        assert url == "http://127.0.0.1:1/api"
        assert early.poll() is not None                 # already stopped: the configured server is used
