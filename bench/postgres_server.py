"""A throwaway PostgreSQL server from Debian's `postgresql` package, for the tests and `bench.database`.

PostgreSQL refuses to run as root, and CI runs as root: then initdb and pg_ctl run as the `postgres`
user (which the Debian package creates) through `runuser`. The cluster lives in a fresh folder under
/tmp with trust authentication on 127.0.0.1 only, fsync off (a test server, thrown away at the end).
Each test gets its own database from pytest-postgresql's DatabaseJanitor (``database()``, so only the
tests need that package). It lives in bench/ because benchmarks never import tests/ (tests/test_layers.py).
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import threading
import uuid
from contextlib import contextmanager
from pathlib import Path


def find_bin_dir() -> Path | None:
    """Return the folder holding pg_ctl and initdb: on PATH, else Debian's newest /usr/lib/postgresql/N/bin."""
    found = shutil.which("pg_ctl")
    if found and Path(found).resolve().with_name("initdb").exists():
        return Path(found).resolve().parent
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(Path(p).parts[-3]))
    return Path(versions[-1]).parent if versions else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PostgresServer:
    """One PostgreSQL cluster on 127.0.0.1:``port``, superuser ``postgres``, no password."""

    user = "postgres"

    def __init__(self, bin_dir: Path, prefix: str = "pytest-postgres-"):
        self.bin_dir = bin_dir
        self.port = _free_port()
        self.folder = Path(tempfile.mkdtemp(prefix=prefix))
        self.data = self.folder / "data"
        self.prefix: list[str] = []
        if os.geteuid() == 0:
            owner = pwd.getpwnam("postgres") if _has_user("postgres") else pwd.getpwnam("nobody")
            os.chown(self.folder, owner.pw_uid, owner.pw_gid)
            self.prefix = ["runuser", "-u", owner.pw_name, "--"]

    def _run(self, program: str, *args: str) -> None:
        command = [*self.prefix, str(self.bin_dir / program), *args]
        result = subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=self.folder)
        if result.returncode != 0:
            log = self.folder / "server.log"
            raise RuntimeError(
                f"{' '.join(command)} failed: {result.stderr[-2000:]}{log.read_text()[-2000:] if log.exists() else ''}"
            )

    def init(self) -> PostgresServer:
        self._run("initdb", "-D", str(self.data), "-U", self.user, "--auth=trust", "-E", "UTF8", "--no-sync")
        return self

    def start(self) -> None:
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.folder / "server.log"), "-o", options, "-w", "start")

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    @contextmanager
    def frozen(self, thaw_after: float = 30):
        """Stop every process of the server (SIGSTOP: the postmaster, its backends and workers), yield, resume them.

        The kernel still accepts connections and acknowledges bytes, so clients see a server that never answers.
        The server resumes by itself after ``thaw_after`` seconds, so a client that would wait forever fails a
        test instead of hanging it.
        """
        import psutil

        postmaster = psutil.Process(int((self.data / "postmaster.pid").read_text().split()[0]))
        processes = [postmaster, *postmaster.children(recursive=True)]

        def thaw():
            for process in processes:
                process.resume()

        for process in processes:
            process.suspend()
        timer = threading.Timer(thaw_after, thaw)
        timer.start()
        try:
            yield
        finally:
            timer.cancel()
            thaw()

    def remove(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)

    def url(self, dbname: str) -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{dbname}"

    @contextmanager
    def database(self):
        """Create a fresh database, yield its URL, drop it."""
        from pytest_postgresql.janitor import DatabaseJanitor

        janitor = DatabaseJanitor(
            user=self.user, host="127.0.0.1", port=self.port, dbname=f"test_{uuid.uuid4().hex[:12]}"
        )
        janitor.init()
        try:
            yield self.url(janitor.dbname)
        finally:
            janitor.drop()


@contextmanager
def running(bin_dir: Path, prefix: str = "pytest-postgres-"):
    """Initialise and start a fresh cluster, yield its PostgresServer, then stop it and remove its folder.

    The server is stopped whenever its postmaster.pid exists, so one started by an interrupted ``start`` is
    stopped too; thaw a ``frozen`` server first (leave its block), or the stop waits for it.
    """
    server = PostgresServer(bin_dir, prefix)
    try:
        server.init()
        server.start()
        yield server
    finally:
        try:
            if (server.data / "postmaster.pid").exists():
                server.stop()
        finally:
            server.remove()


def _has_user(name: str) -> bool:
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False
