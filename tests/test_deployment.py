"""Deployment files, and gunicorn started exactly as the Procfile starts it, over real HTTP."""

from __future__ import annotations

import http.client
import json
import os
import re
import shlex
import socket
import subprocess
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil
import pytest

from bench import gunicorn_process
from synth.canvas import encode
from synth.digits import stroke_digit

ROOT = Path(__file__).resolve().parent.parent


def test_runtime_txt_and_python_version_agree_with_the_interpreter():
    runtime = (ROOT / "runtime.txt").read_text().strip()
    python_version = (ROOT / ".python-version").read_text().strip()
    assert runtime == f"python-{python_version}"
    assert f"{sys.version_info.major}.{sys.version_info.minor}".startswith(python_version)


def test_requirements_are_pinned_and_leave_tensorflow_out():
    lines = [line.strip() for line in (ROOT / "requirements.txt").read_text().splitlines()]
    packages = [line for line in lines if line and not line.startswith("#")]
    assert all(re.fullmatch(r"[A-Za-z0-9_.-]+==[\w.]+", p) for p in packages), packages
    names = {p.split("==")[0].lower() for p in packages}
    assert {"flask", "gunicorn", "numpy", "pillow", "ai-edge-litert"} <= names
    assert not any("tensorflow" in n or n == "keras" for n in names)


def test_procfile_binds_port_with_gunicorn_and_the_app_factory():
    line = next(line for line in (ROOT / "Procfile").read_text().splitlines() if line.startswith("web:"))
    command = shlex.split(line.removeprefix("web:"))
    assert command[0] == "gunicorn" and "app:create_app()" in command


@pytest.mark.slow
def test_gunicorn_started_as_the_procfile_does_answers_over_http():
    with gunicorn_process.start(encode(stroke_digit(7)), env={"MODEL_BACKEND": "litert"}) as server:
        with urllib.request.urlopen(server.url + "/healthz", timeout=5) as response:
            assert json.load(response)["backend"] == "litert"
        status, body = gunicorn_process.post(server.url + "/predict", encode(stroke_digit(7)))
        assert status == 200 and body["digit"] == 7
        status, body = gunicorn_process.post(server.url + "/predict", b"junk")
        assert status == 400 and "error" in body
        # The master and WEB_CONCURRENCY=2 workers (the second may still be forking after the first answers).
        deadline = time.monotonic() + 10
        while server.memory_mb()["processes"] < 3 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert server.memory_mb()["processes"] == 3


def on_port(worker: psutil.Process, port: int, status: str) -> int:
    """How many of ``worker``'s TCP sockets on ``port`` are in ``status`` (psutil.CONN_LISTEN, CONN_ESTABLISHED)."""
    return sum(c.status == status and c.laddr.port == port for c in worker.net_connections("tcp"))


@pytest.mark.slow
def test_kept_alive_connections_are_spread_over_both_workers():
    """A proxy or a load test opens its connections at once and keeps them alive: each worker takes half.

    Greedy on one shared listening socket, the first worker to wake accepted a whole burst (39:9, 47:1) and the
    other stayed idle for as long as the connections lived; a socket per worker split them by a hash, 8 as unevenly
    as 6:2 in one draw of four. Each worker now accepts only while it holds the fewest (``gunicorn_balance``)."""
    png = encode(stroke_digit(7))
    with gunicorn_process.start(png) as server:
        port = int(server.url.rsplit(":", 1)[1])
        master = psutil.Process(server.process.pid)

        def listening() -> int:  # the workers listening on the port
            return sum(on_port(w, port, psutil.CONN_LISTEN) > 0 for w in master.children())

        deadline = time.monotonic() + 10  # the second worker may still be forking after the first answers
        while listening() < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        connections = [http.client.HTTPConnection("127.0.0.1", port, timeout=10) for _ in range(48)]

        def client(connection):  # as a load test's client does: connect, then one request after another
            for _ in range(4):
                connection.request("POST", "/predict?mode=digit", png, {"Content-Type": "image/png"})
                response = connection.getresponse()
                assert response.status == 200 and json.load(response)["digit"] == 7

        try:
            for connection in connections:
                connection.connect()  # a burst: every connection opened before any request
            with ThreadPoolExecutor(len(connections)) as pool:
                list(pool.map(client, connections))
            held = [on_port(worker, port, psutil.CONN_ESTABLISHED) for worker in master.children()]
        finally:
            for connection in connections:
                connection.close()
    # A worker may accept one more while the other's count is being written: within a few of 24 each.
    assert sum(held) == 48 and len(held) == 2 and max(held) - min(held) <= 4, held


@pytest.mark.slow
def test_a_worker_killed_holding_fewer_connections_does_not_stop_the_others_accepting():
    """A worker killed without its goodbye (the kernel's OOM killer, a crash) leaves its count of connections on the
    board; the others must not wait for it to take the next ones. Its row stops counting within
    ``gunicorn_balance.STALE_SECONDS``, and the worker the master forks in its place takes its share."""
    png = encode(stroke_digit(7))
    with gunicorn_process.start(png) as server:
        port = int(server.url.rsplit(":", 1)[1])
        master = psutil.Process(server.process.pid)
        deadline = time.monotonic() + 10
        while len(master.children()) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        kept = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        kept.request("POST", "/predict?mode=digit", png, {"Content-Type": "image/png"})
        assert kept.getresponse().read() and kept.sock is not None  # kept alive, held by one worker

        idle = next(worker for worker in master.children() if on_port(worker, port, psutil.CONN_ESTABLISHED) == 0)
        idle.kill()  # the board still says it holds 0, fewer than the worker holding ``kept``
        connections = [http.client.HTTPConnection("127.0.0.1", port, timeout=10) for _ in range(6)]

        def client(connection):
            for _ in range(3):
                connection.request("POST", "/predict?mode=digit", png, {"Content-Type": "image/png"})
                response = connection.getresponse()
                assert response.status == 200 and json.load(response)["digit"] == 7
            return time.monotonic()

        try:
            started = time.monotonic()
            with ThreadPoolExecutor(len(connections)) as pool:
                finished = list(pool.map(client, connections))
        finally:
            kept.close()
            for connection in connections:
                connection.close()
    assert max(finished) - started < 5, [round(t - started, 2) for t in finished]


@pytest.mark.slow
def test_gunicorn_stops_at_once_with_one_line_when_the_model_file_is_missing(tmp_path):
    env = {**os.environ, "PORT": str(gunicorn_process.free_port()), "MODEL_PATH": str(tmp_path / "missing.tflite")}
    env.pop("MODEL_BACKEND", None)
    result = subprocess.run(
        gunicorn_process.procfile_command(), cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if "missing.tflite" in line]
    assert len(lines) == 1 and "python model.py train" in lines[0]
    assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_gunicorn_stops_at_once_with_one_line_when_its_port_is_taken():
    with socket.socket() as taken:
        taken.bind(("0.0.0.0", 0))
        taken.listen()
        env = {**os.environ, "PORT": str(taken.getsockname()[1])}
        result = subprocess.run(
            gunicorn_process.procfile_command(), cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
        )
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if "Cannot listen at" in line]
    assert len(lines) == 1 and "in use" in lines[0]
    assert "Booting worker" not in result.stderr  # stopped in the master, before any worker


@pytest.mark.slow
def test_gunicorn_says_the_address_it_serves_at():
    # gunicorn's own "Listening at" line names 0.0.0.0 (PORT set, as on a platform), which a browser may not open.
    port = gunicorn_process.free_port()
    env = {**os.environ, "PORT": str(port)}
    server = subprocess.Popen(gunicorn_process.procfile_command(), cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True)
    try:
        lines = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not any("Serving at" in line for line in lines):
            lines.append(server.stderr.readline())
        assert any(f"Serving at http://localhost:{port}/" in line for line in lines), lines
    finally:
        server.terminate()
        server.wait(timeout=30)


def quick_start_commands() -> list[str]:
    """The shell commands of README.md's Quick start section, in order."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sh\n(.+?)\n```", section)


def test_the_readme_quick_start_has_two_commands_and_ci_runs_the_test_one():
    serve, test = quick_start_commands()
    assert "requirements.txt" in serve and "gunicorn" in serve
    assert "requirements-dev.txt" in test and "pytest" in test
    ci_lines = (ROOT / ".ci" / "run").read_text().splitlines()
    assert test in ci_lines


def test_the_server_needs_nothing_beyond_requirements_txt(tmp_path):
    (tmp_path / "digit.png").write_bytes(encode(stroke_digit(7)))
    code = f"""
import sys
for name in ("scipy", "tensorflow", "keras", "matplotlib", "h5py"):
    sys.modules[name] = None  # importing any of them now fails
import app
client = app.create_app().test_client()
response = client.post("/predict", data=open({str(tmp_path / "digit.png")!r}, "rb").read(), content_type="image/png")
assert response.status_code == 200 and response.get_json()["digit"] == 7, response.get_json()
print("ok")
"""
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and "ok" in result.stdout, result.stderr
