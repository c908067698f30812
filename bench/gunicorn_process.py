"""Start gunicorn the way the Procfile does, wait for its first answer, and measure its memory."""

from __future__ import annotations

import http.client
import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent


def procfile_command(process: str = "web") -> list[str]:
    """Return the Procfile's ``process`` command (`web:`, or `release:`) as argv, its program (gunicorn,
    flask) taken from this interpreter's venv."""
    line = next(line for line in (ROOT / "Procfile").read_text().splitlines() if line.startswith(f"{process}:"))
    argv = shlex.split(line.removeprefix(f"{process}:"))
    return [str(Path(sys.executable).with_name(argv[0])), *argv[1:]]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    process: subprocess.Popen
    url: str
    startup_seconds: float  # process start to the first successful POST /predict

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=20)

    def memory_mb(self) -> dict:
        """Resident memory of the master plus its workers: RSS (shared pages counted per process) and PSS."""
        import psutil

        master = psutil.Process(self.process.pid)
        processes = [master, *master.children(recursive=True)]
        infos = [p.memory_full_info() for p in processes]
        return {
            "processes": len(processes),
            "rss": sum(i.rss for i in infos) / 2**20,
            "pss": sum(i.pss for i in infos) / 2**20,
        }

    def rss_mb(self) -> float:
        """Resident memory of the master plus its workers, MB (RSS: shared pages counted per process)."""
        import psutil

        total = 0
        try:
            master = psutil.Process(self.process.pid)
            for process in [master, *master.children(recursive=True)]:
                try:
                    total += process.memory_info().rss
                except psutil.NoSuchProcess:  # a worker replaced between listing and reading
                    pass
        except psutil.NoSuchProcess:
            pass
        return total / 2**20

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def post(url: str, body: bytes, content_type: str = "image/png", timeout: float = 10) -> tuple[int, dict]:
    request = urllib.request.Request(url, data=body, headers={"Content-Type": content_type})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


class PeakMemory:
    """Sample the server's ``rss_mb`` every ``interval`` seconds in a thread; ``peak`` is the highest seen."""

    def __init__(self, server: Server, interval: float = 0.01):
        self.server, self.interval, self.peak = server, interval, 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, self.server.rss_mb())
            self._stop.wait(self.interval)

    def __enter__(self):
        self.peak = self.server.rss_mb()
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def _answer(response: http.client.HTTPResponse) -> tuple[int, dict]:
    body = response.read()
    try:
        return response.status, json.loads(body)
    except ValueError:
        return response.status, {"not_json": body[:200].decode("latin-1")}


def post_chunked(url: str, chunks, content_type: str = "image/png", timeout: float = 10) -> tuple[int, dict]:
    """POST ``chunks`` (an iterable of bytes) with Transfer-Encoding: chunked, no Content-Length."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    try:
        connection.request(
            "POST",
            parts.path,
            body=iter(chunks),
            encode_chunked=True,
            headers={"Content-Type": content_type, "Transfer-Encoding": "chunked"},
        )
        return _answer(connection.getresponse())
    finally:
        connection.close()


def send_raw(url: str, request: bytes, timeout: float = 10) -> tuple[int, dict]:
    """Send raw HTTP bytes (a hand-made request, e.g. a malformed chunk) and return status and JSON."""
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=timeout) as sock:
        sock.sendall(request)
        response = http.client.HTTPResponse(sock)
        response.begin()
        return _answer(response)


def start(
    probe: bytes, command: list[str] | None = None, env: dict | None = None, workers: int = 2, timeout: float = 60
) -> Server:
    """Start gunicorn (the Procfile's command unless ``command``) on a free port and wait until
    POST /predict with ``probe`` (a PNG) answers 200. Raises RuntimeError with its output if it dies."""
    port = free_port()
    environment = {**os.environ, "PORT": str(port), "WEB_CONCURRENCY": str(workers), **(env or {})}
    argv = command or procfile_command()
    begin = time.perf_counter()
    process = subprocess.Popen(
        argv, cwd=ROOT, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True
    )
    url = f"http://127.0.0.1:{port}"
    server = Server(process, url, 0.0)
    try:
        while True:
            try:
                if post(url + "/predict", probe, timeout=5)[0] == 200:
                    server.startup_seconds = time.perf_counter() - begin
                    return server
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if process.poll() is not None:
                raise RuntimeError(
                    f"gunicorn exited with {process.returncode}: {process.stderr.read().decode()[-2000:]}"
                )
            if time.perf_counter() - begin > timeout:
                raise RuntimeError(f"gunicorn did not answer within {timeout} s")
            time.sleep(0.01)
    except BaseException:  # Ctrl+C included: gunicorn runs in its own session, so nothing else would stop it
        server.stop()
        raise
