"""The services a fault scenario breaks, owned by the scenario: a redis-server that may be killed
and restarted with or without persistence, and a throwaway PostgreSQL cluster that may be
restarted, so that neither disturbs the suite's own Redis and database."""
from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from tests.conftest import RedisServer, _free_port, _redis_executable


class ScenarioRedis(RedisServer):
    """A Redis on its own port and directory. ``persistence`` is ``"aof"`` (every write fsynced
    before it is acknowledged), ``"rdb"`` (a snapshot after every write, taken at shutdown too),
    or ``None``: nothing is saved, so a restart comes back empty."""

    def __init__(self, persistence: str | None = None) -> None:
        super().__init__()
        self.persistence = persistence
        self.dir = tempfile.mkdtemp(prefix="smsdesk-fault-redis-")

    def start(self) -> None:
        options = {
            None: ["--save", "", "--appendonly", "no"],
            "aof": ["--save", "", "--appendonly", "yes", "--appendfsync", "always"],
            "rdb": ["--save", "1 1", "--appendonly", "no"],
        }[self.persistence]
        self.process = subprocess.Popen(
            [_redis_executable(), "--port", str(self.port), "--bind", "127.0.0.1", "--dir", self.dir, *options],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        _wait_for_port(self.port, "redis-server")

    def crash(self) -> None:
        """SIGKILL: no shutdown save, exactly like a crash (AOF with fsync always loses nothing)."""
        self.stop()

    def keys(self) -> int:
        from redis import Redis

        return Redis.from_url(self.url).dbsize()

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def _wait_for_port(port: int, what: str, timeout: float = 15) -> None:
    import socket

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not start on port {port}")


def postgres_bin() -> str | None:
    """The newest installed PostgreSQL's bin directory, or None."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: [int(x) for x in p.split("/")[4].split(".") if x.isdigit()])
    return os.path.dirname(found[-1]) if found else None


class PostgresCluster:
    """``initdb`` + ``pg_ctl`` on a free port, run as the ``postgres`` user when we are root (the
    server refuses to run as root), trusting local connections; ``restart`` stops it in
    immediate mode (no checkpoint: crash recovery on start) and starts it again."""

    def __init__(self) -> None:
        self.bin = postgres_bin()
        if self.bin is None:
            raise RuntimeError("no PostgreSQL server binaries under /usr/lib/postgresql/*/bin")
        self.port = _free_port()
        self.data = Path(tempfile.mkdtemp(prefix="smsdesk-fault-pg-"))
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/smsdesk_fault"

    def _run(self, command: str) -> None:
        if os.geteuid() == 0:
            argv = ["su", "postgres", "-c", command]
        else:
            argv = ["sh", "-c", command]
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=60)

    def start(self) -> None:
        self._run(f"{self.bin}/pg_ctl -D {self.data} -o '-p {self.port} -k /tmp -c fsync=off' "
                  f"-l {self.data}/log -w start")

    def create(self) -> "PostgresCluster":
        if os.geteuid() == 0:
            shutil.chown(self.data, "postgres")
        self._run(f"{self.bin}/initdb -D {self.data} -A trust -U postgres")
        self.start()
        self._run(f"{self.bin}/createdb -h 127.0.0.1 -p {self.port} -U postgres smsdesk_fault")
        return self

    def stop(self, mode: str = "immediate") -> None:
        self._run(f"{self.bin}/pg_ctl -D {self.data} -m {mode} -w stop")

    def remove(self) -> None:
        try:
            self.stop("immediate")
        except subprocess.CalledProcessError:
            pass  # not running
        shutil.rmtree(self.data, ignore_errors=True)
