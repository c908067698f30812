"""Deployment files, and gunicorn started exactly as the Procfile starts it, over real HTTP."""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from drawings import encode, stroke_digit

ROOT = Path(__file__).resolve().parent.parent


def procfile_command() -> list[str]:
    line = next(l for l in (ROOT / "Procfile").read_text().splitlines() if l.startswith("web:"))
    return shlex.split(line.removeprefix("web:"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_runtime_txt_and_python_version_agree_with_the_interpreter():
    runtime = (ROOT / "runtime.txt").read_text().strip()
    python_version = (ROOT / ".python-version").read_text().strip()
    assert runtime == f"python-{python_version}"
    assert f"{sys.version_info.major}.{sys.version_info.minor}".startswith(python_version)


def test_requirements_are_pinned_and_leave_tensorflow_out():
    lines = [l.strip() for l in (ROOT / "requirements.txt").read_text().splitlines()]
    packages = [l for l in lines if l and not l.startswith("#")]
    assert all(re.fullmatch(r"[A-Za-z0-9_.-]+==[\w.]+", p) for p in packages), packages
    names = {p.split("==")[0].lower() for p in packages}
    assert {"flask", "gunicorn", "numpy", "pillow", "ai-edge-litert"} <= names
    assert not any("tensorflow" in n or n == "keras" for n in names)


def test_procfile_binds_port_with_gunicorn_and_the_app_factory():
    command = procfile_command()
    assert command[0] == "gunicorn" and "app:create_app()" in command


@pytest.mark.slow
def test_gunicorn_started_as_the_procfile_does_answers_over_http():
    port = free_port()
    env = {**os.environ, "PORT": str(port), "WEB_CONCURRENCY": "2"}
    env.pop("MODEL_BACKEND", None)
    gunicorn = Path(sys.executable).with_name("gunicorn")
    command = [str(gunicorn), *procfile_command()[1:]]
    server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(base + "/healthz", timeout=2) as response:
                    health = json.load(response)
                break
            except (urllib.error.URLError, ConnectionError):
                assert server.poll() is None, server.stdout.read().decode()
                assert time.monotonic() < deadline, "gunicorn did not answer within 30 s"
                time.sleep(0.2)
        assert health["backend"] == "litert"

        request = urllib.request.Request(base + "/predict", data=encode(stroke_digit(7)),
                                         headers={"Content-Type": "image/png"})
        with urllib.request.urlopen(request, timeout=5) as response:
            assert json.load(response)["digit"] == 7

        with pytest.raises(urllib.error.HTTPError) as error:
            urllib.request.urlopen(urllib.request.Request(base + "/predict", data=b"junk",
                                                          headers={"Content-Type": "image/png"}), timeout=5)
        assert error.value.code == 400 and "error" in json.load(error.value)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=15)


@pytest.mark.slow
def test_gunicorn_stops_at_once_when_the_model_file_is_missing(tmp_path):
    env = {**os.environ, "PORT": str(free_port()), "MODEL_PATH": str(tmp_path / "missing.tflite")}
    env.pop("MODEL_BACKEND", None)
    gunicorn = Path(sys.executable).with_name("gunicorn")
    result = subprocess.run([str(gunicorn), *procfile_command()[1:]], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "missing.tflite" in result.stderr + result.stdout
    assert "python model.py train" in result.stderr + result.stdout


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
