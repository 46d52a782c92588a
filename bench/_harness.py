"""Shared plumbing for the benchmarks in ``bench/`` (not a benchmark itself).

Every benchmark owns everything it runs: a temporary directory, its own ``redis-server`` on a free
port, a fresh database (a new PostgreSQL database created on ``--pg-admin-url`` and dropped at the
end, or an SQLite file in the temporary directory), gunicorn and worker processes. Children are
started in their own process groups, so a Ctrl-C reaches only the benchmark, which then stops them
in order; ``atexit`` and a SIGTERM handler make sure nothing outlives the run.

Only the standard library and what the project's venv has are used. When a script is started with
another interpreter it re-executes itself with ``.venv/bin/python``.
"""
from __future__ import annotations

import argparse
import atexit
import json
import os
import platform
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
VENV_PYTHON = REPO / ".venv" / "bin" / "python"
DEFAULT_PG_ADMIN_URL = os.environ.get("BENCH_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5439/postgres")


def run_main(main) -> None:
    """A script's entry point: its exit status, and a quiet stop on Ctrl-C (by then the stack it
    started has been torn down by its context managers)."""
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("\ninterrupted; everything stopped", file=sys.stderr)
        sys.exit(130)


def ensure_venv() -> None:
    """Re-run the calling script under the project's venv when started with another Python."""
    if VENV_PYTHON.exists() and Path(sys.prefix).resolve() != (REPO / ".venv").resolve():
        os.execv(str(VENV_PYTHON), [str(VENV_PYTHON), *sys.argv])


# --------------------------------------------------------------------------------------------
# Small helpers


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, timeout: float = 30, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process {proc.args!r} exited with {proc.returncode} before listening on {port}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile (pct in 0..100) of an unsorted list; NaN when empty."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), int(round(pct / 100 * len(ordered) + 0.5))))
    return ordered[rank - 1]


def summarize_ms(values_s: list[float]) -> dict:
    ms = [v * 1000 for v in values_s]
    return {
        "n": len(ms),
        "p50_ms": percentile(ms, 50),
        "p90_ms": percentile(ms, 90),
        "p99_ms": percentile(ms, 99),
        "mean_ms": statistics.fmean(ms) if ms else float("nan"),
        "max_ms": max(ms) if ms else float("nan"),
    }


def verdict(ok: bool) -> str:
    return "MET" if ok else "NOT MET"


def machine_notes() -> str:
    """One line about the machine the figures come from."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f", {kb / 1024 / 1024:.0f} GiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    return (f"{os.cpu_count()} CPU ({cpu}){mem}; Python {platform.python_version()}; "
            f"everything (DB, Redis, server, workers, load client) on this one machine")


def banner(title: str, wait_quiet: float = 60) -> None:
    print("=" * 78)
    print(title)
    print("=" * 78, flush=True)
    busy = wait_for_quiet(wait_quiet)
    note = "" if busy < QUIET_CORES else "  WARNING: the machine is busy with other work; figures will be low"
    print(f"background load before start: {busy:.2f} cores busy{note}", flush=True)


QUIET_CORES = 0.3


def section(title: str) -> None:
    print("=" * 78)
    print(title)
    print("=" * 78, flush=True)


def machine_busy(seconds: float = 2.0) -> float:
    """Cores busy on the whole machine over ``seconds`` (other sessions' work included)."""
    try:
        import psutil
    except ImportError:
        return 0.0
    def busy() -> float:
        t = psutil.cpu_times()
        return t.user + t.system + getattr(t, "nice", 0) + getattr(t, "irq", 0) + getattr(t, "softirq", 0) + getattr(t, "steal", 0)
    b0, t0 = busy(), time.monotonic()
    time.sleep(seconds)
    return (busy() - b0) / (time.monotonic() - t0)


def wait_for_quiet(limit: float) -> float:
    """Wait up to ``limit`` seconds for the machine to be (nearly) idle; returns the busy cores."""
    deadline = time.monotonic() + limit
    while True:
        value = machine_busy()
        if value < QUIET_CORES or time.monotonic() > deadline:
            return value


# --------------------------------------------------------------------------------------------
# CPU accounting: who used the two cores during a phase


class CpuMeter:
    """CPU seconds used by groups of processes between ``start()`` and ``stop()`` (psutil).

    Groups: our process trees (by root pid); ``postgres``: the backends of our database (other
    databases' backends count as "other" work), ``postgres (shared)``: the server's background
    processes (WAL writer, checkpointer ...); ``other``: everything else on the machine (other
    sessions' work), ``irq``: interrupt time. Processes are only read, never touched."""

    database: str | None = None  # our PostgreSQL database, set by Stack

    def __init__(self, trees: dict[str, list[int]], by_name: dict[str, str] | None = None) -> None:
        self.trees = trees
        self.by_name = by_name or {"postgres": "postgres"}
        self.before: dict[str, dict[int, float]] = {}
        self.wall = 0.0

    def _sample(self) -> dict[str, dict[int, float]]:
        try:
            import psutil
        except ImportError:
            return {}
        result: dict[str, dict[int, float]] = {}
        for label, roots in self.trees.items():
            found: dict[int, float] = {}
            for root in roots:
                try:
                    proc = psutil.Process(root)
                    for p in [proc, *proc.children(recursive=True)]:
                        t = p.cpu_times()
                        found[p.pid] = t.user + t.system
                except psutil.Error:
                    continue
            result[label] = found
        for label, name in self.by_name.items():
            if name == "postgres" and self.database == "":
                continue
            found, shared = {}, {}
            for p in psutil.process_iter(["name", "cmdline"]):
                try:
                    if p.info["name"] != name:
                        continue
                    title = " ".join(p.info["cmdline"] or [])
                    t = p.cpu_times()
                    if name == "postgres" and self.database:
                        # Backends are titled "postgres: user database host(port) state": count
                        # ours, leave other databases' to "other"; background processes are shared.
                        if "(" not in title and not title.startswith("postgres: postgres "):
                            shared[p.pid] = t.user + t.system
                            continue
                        if f" {self.database} " not in title:
                            continue
                    found[p.pid] = t.user + t.system
                except psutil.Error:
                    continue
            result[label] = found
            if shared:
                result[label + " (shared)"] = shared
        t = psutil.cpu_times()
        result["_machine"] = {0: t.user + t.system + getattr(t, "nice", 0) + getattr(t, "steal", 0)}
        # Interrupt time (loopback TCP of the benchmark's own traffic, mostly) is no process's.
        result["_irq"] = {0: getattr(t, "irq", 0) + getattr(t, "softirq", 0)}
        result["_self"] = {0: sum(os.times()[:2])}
        return result

    def start(self) -> None:
        self.before = self._sample()
        self.t0 = time.monotonic()

    def stop(self) -> dict[str, float]:
        after = self._sample()
        self.wall = time.monotonic() - self.t0
        used = {}
        for label, procs in after.items():
            old = self.before.get(label, {})
            used[label] = sum(max(0.0, cpu - old.get(pid, 0.0)) for pid, cpu in procs.items())
        machine = used.pop("_machine", 0.0)
        irq = used.pop("_irq", 0.0)
        used["bench process"] = used.pop("_self", 0.0)
        if machine:
            used["other"] = max(0.0, machine - sum(used.values()))
            used["irq"] = irq
            used["machine total"] = machine + irq
        return used

    @staticmethod
    def describe(used: dict[str, float], wall: float) -> str:
        if not used or wall <= 0:
            return "(psutil unavailable)"
        parts = [f"{label} {cpu / wall:.2f}" for label, cpu in used.items()]
        return "CPU cores used: " + ", ".join(parts) + f" (of {os.cpu_count()})"


# --------------------------------------------------------------------------------------------
# The stack: tmpdir, Redis, database, app processes


class Stack:
    """Everything one benchmark run needs; use as a context manager."""

    def __init__(self, args: argparse.Namespace, extra_env: dict | None = None, name: str = "bench") -> None:
        self.args = args
        self.name = name
        self.extra_env = extra_env or {}
        self.tmpdir = Path(tempfile.mkdtemp(prefix=f"smsdesk-{name}-"))
        self.children: list[subprocess.Popen] = []
        self.redis: subprocess.Popen | None = None
        self.redis_url = ""
        self.database_url = ""
        self.created_db: str | None = None
        self.api_key = ""
        self._closed = False
        self.app_dir = REPO
        self.app_source = ""

    # -- lifecycle --------------------------------------------------------------------------
    def __enter__(self) -> "Stack":
        atexit.register(self.close)
        signal.signal(signal.SIGTERM, _raise_interrupt)
        try:
            self._prepare_source()
            self._start_redis()
            self._create_database()
            self.migrate()
            self.api_key = self.seed()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for proc in reversed(self.children):
            stop_process(proc)
        if self.redis is not None:
            stop_process(self.redis)
        if self.created_db and not self.args.keep:
            try:
                _pg_admin(self.args.pg_admin_url, f'DROP DATABASE IF EXISTS "{self.created_db}" WITH (FORCE)')
            except Exception as exc:  # noqa: BLE001 - cleanup must go on
                print(f"warning: could not drop database {self.created_db}: {exc}", file=sys.stderr)
        if self.args.keep:
            print(f"kept: {self.tmpdir} database {self.database_url}", file=sys.stderr)
        else:
            shutil.rmtree(self.tmpdir, ignore_errors=True)

    # -- the code under test ------------------------------------------------------------------
    def _prepare_source(self) -> None:
        self.app_dir, self.app_source = prepare_source(self.args.app_source, self.tmpdir)

    # -- services ---------------------------------------------------------------------------
    def _start_redis(self) -> None:
        port = free_port()
        exe = shutil.which("redis-server") or str(REPO / ".venv" / "bin" / "redis-server")
        self.redis = subprocess.Popen(
            [exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.tmpdir), "--logfile", str(self.tmpdir / "redis.log")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )
        wait_for_port(port, 10, self.redis)
        self.redis_url = f"redis://127.0.0.1:{port}/0"

    def _create_database(self) -> None:
        url = self.args.database_url
        if url in (None, "", "postgresql", "pg"):
            name = f"smsdesk_{self.name}_{secrets.token_hex(4)}"
            _pg_admin(self.args.pg_admin_url, f'CREATE DATABASE "{name}"')
            self.created_db = name
            parts = urllib.parse.urlsplit(self.args.pg_admin_url)
            self.database_url = urllib.parse.urlunsplit(parts._replace(path="/" + name))
            CpuMeter.database = name
        elif url == "sqlite":
            self.database_url = f"sqlite:///{self.tmpdir / 'bench.db'}"
            CpuMeter.database = ""  # no PostgreSQL in this run
        else:
            self.database_url = url
            CpuMeter.database = (urllib.parse.urlsplit(url).path.lstrip("/") or None) if self.is_postgres else ""

    @property
    def is_postgres(self) -> bool:
        return self.database_url.startswith(("postgres://", "postgresql"))

    @property
    def sqlalchemy_url(self) -> str:
        url = self.database_url
        for old in ("postgres://", "postgresql://"):
            if url.startswith(old):
                return "postgresql+psycopg://" + url[len(old):]
        return url

    @property
    def env(self) -> dict:
        env = dict(os.environ)
        env.update({
            "DATABASE_URL": self.database_url,
            "REDIS_URL": self.redis_url,
            "SECRET_KEY": "bench-secret-key",
            "SMSDESK_VAR_DIR": str(self.tmpdir),
            "RQ_QUEUE": f"smsdesk-{self.name}",
            "LOG_LEVEL": "WARNING",
            "PYTHONUNBUFFERED": "1",
            "PYTHONPATH": str(self.app_dir),
            # One API key making thousands of requests a second is what these benchmarks measure
            # and what the rate limits exist to stop: off unless a script turns them on.
            "API_RATE_LIMIT": "0",
            "DASHBOARD_RATE_LIMIT": "0",
        })
        env.update({k: str(v) for k, v in self.extra_env.items()})
        return env

    def flask(self, *argv: str) -> str:
        result = subprocess.run([sys.executable, "-m", "flask", "--app", "app", *argv], cwd=self.app_dir, env=self.env,
                                capture_output=True, text=True)
        if result.returncode != 0:
            raise RuntimeError(f"flask {' '.join(argv)} failed:\n{result.stdout}\n{result.stderr}")
        return result.stdout

    def migrate(self) -> None:
        self.flask("db", "upgrade")

    def seed(self) -> str:
        self.flask("accounts", "create", "Bench")
        return self.flask("api-keys", "create", "--account", "Bench").strip().splitlines()[-1].strip()

    # -- processes --------------------------------------------------------------------------
    def spawn(self, argv: list[str], log_name: str, extra_env: dict | None = None) -> subprocess.Popen:
        env = self.env
        env.update({k: str(v) for k, v in (extra_env or {}).items()})
        log = open(self.tmpdir / log_name, "ab")
        proc = subprocess.Popen(argv, cwd=self.app_dir, env=env, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
        log.close()
        self.children.append(proc)
        return proc

    def start_gunicorn(self, worker_class: str = "sync", workers: int = 2, threads: int = 1,
                       extra_env: dict | None = None) -> tuple[subprocess.Popen, str]:
        port = free_port()
        argv = [sys.executable, "-m", "gunicorn", "--workers", str(workers), "--worker-class", worker_class,
                "--bind", f"127.0.0.1:{port}", "--backlog", "2048", "--timeout", "120",
                "--log-level", "warning"]
        if worker_class == "gthread":
            argv += ["--threads", str(threads)]
        argv.append("app:create_app()")
        proc = self.spawn(argv, f"gunicorn-{worker_class}-{port}.log", extra_env)
        wait_for_port(port, 60, proc)
        # The master listens before its workers have imported the app: wait for a real answer.
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                status, _ = http_request(base, "GET", "/v1/ping")
                if status == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("gunicorn did not answer /v1/ping")
            time.sleep(0.1)
        return proc, base

    def start_worker(self, extra_env: dict | None = None) -> subprocess.Popen:
        n = sum(1 for c in self.children if "worker" in " ".join(map(str, c.args)))
        return self.spawn([sys.executable, "-m", "flask", "--app", "app", "worker"], f"worker-{n}.log", extra_env)

    def stop(self, proc: subprocess.Popen) -> None:
        stop_process(proc)
        if proc in self.children:
            self.children.remove(proc)

    def log_tail(self, name_glob: str, lines: int = 20) -> str:
        out = []
        for path in sorted(self.tmpdir.glob(name_glob)):
            text = path.read_text(errors="replace").splitlines()[-lines:]
            out.append(f"--- {path.name}\n" + "\n".join(text))
        return "\n".join(out)

    def engine(self):
        from sqlalchemy import create_engine

        return create_engine(self.sqlalchemy_url)


APP_PATHS = ("app", "migrations", "templates", "static")


def prepare_source(source: str, tmpdir: Path) -> tuple[Path, str]:
    """The code under test: the live work tree ('live'), a copy of it taken now ('copy': edits
    made by others during the run cannot change the code half-way), or a git revision (extracted
    with ``git archive``). Returns the directory to run from and a description."""
    rev = _git("rev-parse", "--short", "HEAD")
    dirty = bool(_git("status", "--porcelain", "--", *APP_PATHS))
    if source not in ("live", "copy") and (Path(source) / "app").is_dir():
        return Path(source).resolve(), f"directory {Path(source).resolve()}"
    if source == "live":
        return REPO, f"work tree at {REPO} (live){' with uncommitted changes' if dirty else ''}, HEAD {rev}"
    target = tmpdir / "src"
    target.mkdir()
    if source == "copy":
        for name in APP_PATHS:
            if (REPO / name).exists():
                shutil.copytree(REPO / name, target / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        return target, f"copy of the work tree taken at start (HEAD {rev}{' + uncommitted changes' if dirty else ''})"
    archive = subprocess.run(["git", "-C", str(REPO), "archive", source, *APP_PATHS],
                             capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
    return target, f"git revision {source} ({_git('rev-parse', '--short', source)})"


def _git(*argv: str) -> str:
    result = subprocess.run(["git", "-C", str(REPO), *argv], capture_output=True, text=True)
    return result.stdout.strip()


def stop_process(proc: subprocess.Popen, timeout: float = 10) -> None:
    """SIGTERM the process group we created for ``proc``, SIGKILL it after ``timeout``."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()
    # Whatever else is left in the group (gunicorn workers after their master) goes too.
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


def _pg_admin(admin_url: str, sql: str) -> None:
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql)


# --------------------------------------------------------------------------------------------
# HTTP from the benchmark process (for serial calls; load comes from loadgen in another process)


_CONNECTIONS: dict[str, object] = {}


def http_request(base: str, method: str, path: str, body: bytes | None = None,
                 headers: dict | None = None, timeout: float = 120) -> tuple[int, bytes]:
    """One request on a kept-alive ``http.client`` connection per base URL (reconnects if closed)."""
    import http.client

    parts = urllib.parse.urlsplit(base)
    for attempt in (1, 2):
        conn = _CONNECTIONS.get(base)
        if conn is None:
            conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
            _CONNECTIONS[base] = conn
        try:
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            data = resp.read()
            if resp.getheader("Connection", "").lower() == "close":
                conn.close()
                _CONNECTIONS.pop(base, None)
            return resp.status, data
        except (http.client.HTTPException, ConnectionError, BrokenPipeError):
            conn.close()
            _CONNECTIONS.pop(base, None)
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


# --------------------------------------------------------------------------------------------
# Load generation in a separate process


def run_load(base: str, method: str, path: str, *, body: bytes = b"", headers: dict | None = None,
             concurrency: int, duration: float, max_requests: int, warmup: float = 1.0,
             client: str = "python", tmpdir: Path) -> dict:
    """Closed-loop load: ``concurrency`` connections, each sending the next request as soon as the
    previous answered, for ``duration`` seconds or ``max_requests`` requests after ``warmup``.

    ``client="python"`` runs ``bench/_loadgen.py`` (raw sockets, keep-alive, one thread per
    connection) in its own interpreter; ``client="wrk"`` runs wrk (Debian package ``wrk``), which
    costs far less CPU per request. Returns requests/s, latency percentiles (ms), error counts and
    the client's CPU seconds."""
    spec = {
        "base": base, "method": method, "path": path, "body": body.decode(), "headers": headers or {},
        "concurrency": concurrency, "duration": duration, "max_requests": max_requests, "warmup": warmup,
    }
    if client == "wrk":
        return _run_wrk(spec, tmpdir)
    spec_path = tmpdir / f"load-{secrets.token_hex(3)}.json"
    spec_path.write_text(json.dumps(spec))
    t_start = os.times()
    result = subprocess.run([sys.executable, str(REPO / "bench" / "_loadgen.py"), str(spec_path)],
                            capture_output=True, text=True, timeout=duration + warmup + 120)
    t_end = os.times()
    if result.returncode != 0:
        raise RuntimeError(f"load generator failed:\n{result.stderr}")
    out = json.loads(result.stdout.strip().splitlines()[-1])
    out["client_cpu_s"] = (t_end.children_user - t_start.children_user) + (t_end.children_system - t_start.children_system)
    out["client"] = "python (bench/_loadgen.py)"
    return out


_WRK_LUA = r"""
wrk.method = "%(method)s"
wrk.body = %(body)s
%(headers)s
request = function()
  return wrk.format(nil, "%(path)s")
end
done = function(summary, latency, requests)
  io.write(string.format('WRKJSON {"requests": %%d, "duration_us": %%d, "connect_errors": %%d, "read_errors": %%d, "write_errors": %%d, "status_errors": %%d, "timeouts": %%d, "p50_us": %%d, "p90_us": %%d, "p99_us": %%d, "mean_us": %%f, "max_us": %%d}\n',
    summary.requests, summary.duration, summary.errors.connect, summary.errors.read, summary.errors.write,
    summary.errors.status, summary.errors.timeout, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.mean, latency.max))
end
"""


def _lua_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _run_wrk(spec: dict, tmpdir: Path) -> dict:
    exe = shutil.which("wrk")
    if exe is None:
        raise RuntimeError("wrk is not installed (apt-get install -y wrk); use --client python")
    headers = "\n".join(f"wrk.headers[{_lua_string(k)}] = {_lua_string(v)}" for k, v in spec["headers"].items())
    script = tmpdir / f"wrk-{secrets.token_hex(3)}.lua"
    script.write_text(_WRK_LUA % {"method": spec["method"], "body": _lua_string(spec["body"]) if spec["body"] else "nil",
                                  "headers": headers, "path": spec["path"]})
    threads = max(1, min(2, spec["concurrency"]))
    url = spec["base"] + spec["path"]
    if spec["warmup"] > 0:
        subprocess.run([exe, "-t", str(threads), "-c", str(spec["concurrency"]), "-d", f"{max(1, int(spec['warmup']))}s",
                        "-s", str(script), url], capture_output=True, text=True)
    t_start = os.times()
    result = subprocess.run([exe, "-t", str(threads), "-c", str(spec["concurrency"]), "-d", f"{int(spec['duration'])}s",
                             "--timeout", "30s", "-s", str(script), url], capture_output=True, text=True)
    t_end = os.times()
    line = next((l for l in result.stdout.splitlines() if l.startswith("WRKJSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk failed:\n{result.stdout}\n{result.stderr}")
    raw = json.loads(line[len("WRKJSON "):])
    seconds = raw["duration_us"] / 1e6
    errors = raw["connect_errors"] + raw["read_errors"] + raw["write_errors"] + raw["timeouts"]
    return {
        "requests": raw["requests"], "ok": raw["requests"] - raw["status_errors"], "non_2xx": raw["status_errors"],
        "errors": errors, "seconds": seconds, "rps": raw["requests"] / seconds if seconds else 0.0,
        "p50_ms": raw["p50_us"] / 1000, "p90_ms": raw["p90_us"] / 1000, "p99_ms": raw["p99_us"] / 1000,
        "mean_ms": raw["mean_us"] / 1000, "max_ms": raw["max_us"] / 1000,
        "client_cpu_s": (t_end.children_user - t_start.children_user) + (t_end.children_system - t_start.children_system),
        "client": "wrk",
    }


def add_common_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--database-url", default=None,
                        help="omitted: create a fresh PostgreSQL database on --pg-admin-url (dropped afterwards); "
                             "'sqlite': an SQLite file in the temp dir; anything else: use that URL as is "
                             "(it must be an empty database)")
    parser.add_argument("--pg-admin-url", default=DEFAULT_PG_ADMIN_URL,
                        help="superuser URL used to CREATE/DROP the benchmark database (env BENCH_PG_ADMIN_URL)")
    parser.add_argument("--quick", action="store_true", help="a short smoke run with small sizes")
    parser.add_argument("--app-source", default="copy",
                        help="'copy' (default): a copy of the work tree taken at start; 'live': the work tree "
                             "itself; a git revision such as HEAD (extracted with git archive); or a directory "
                             "holding app/, migrations/, templates/ and static/ (e.g. one snapshot shared by several runs)")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir and database for inspection")
    parser.add_argument("--wait-quiet", type=float, default=60,
                        help="wait up to this many seconds for other work on the machine to stop before measuring")
    parser.add_argument("--json", metavar="PATH", help="also write the figures as JSON to PATH")
    parser.add_argument("--py-spy", metavar="EXE", default=None,
                        help="path to a py-spy binary: adds a profiled phase and prints where the time goes")
    parser.add_argument("--profile-dir", default="/tmp/smsdesk-bench-profiles",
                        help="where --py-spy writes its collapsed stacks")


def write_json(path: str | None, data: dict) -> None:
    if path:
        Path(path).write_text(json.dumps(data, indent=2, default=str))


# --------------------------------------------------------------------------------------------
# Sampling profiles of live processes with py-spy (optional: --py-spy PATH/TO/py-spy)


def start_py_spy(py_spy: str, pid: int, seconds: float, out: Path, rate: int = 250) -> subprocess.Popen:
    """Sample ``pid`` and its children for ``seconds``; collapsed stacks go to ``out``.
    py-spy is not a project dependency: install it anywhere (``pip install py-spy`` in a temp venv)."""
    return subprocess.Popen(
        [py_spy, "record", "--pid", str(pid), "--subprocesses", "--duration", str(max(1, int(seconds))),
         "--rate", str(rate), "--nonblocking", "--full-filenames", "--format", "raw", "--output", str(out)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True,
    )


def summarize_collapsed(path: Path, top: int = 25, focus: tuple[str, ...] = ("/src/app/", "/work/main/app/")) -> str:
    """Self time (leaf frames) and inclusive time of functions from a py-spy raw (collapsed) file.

    Inclusive time is shown for frames whose file matches ``focus`` (the app's own code) plus a few
    library entry points that matter for the proposals (SQLAlchemy execute/commit, RQ enqueue ...)."""
    from collections import Counter

    if not path.exists():
        return f"(no profile at {path})"
    self_time: Counter = Counter()
    inclusive: Counter = Counter()
    total = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        try:
            n = int(count)
        except ValueError:
            continue
        frames = stack.split(";")
        if frames and frames[0].startswith("process "):
            frames = frames[1:]
        # Idle threads (gthread's poller, RQ's waits) are not CPU: drop wait frames.
        leaf = frames[-1] if frames else ""
        if any(w in leaf for w in ("select (selectors", "poll (selectors", "wait (threading", "_recv_into",
                                   "accept (socket", "sleep (", "recv (", "_recv (", "read (socket")):
            continue
        total += n
        self_time[_short(leaf)] += n
        seen = set()
        for frame in frames:
            key = _short(frame)
            if key in seen:
                continue
            seen.add(key)
            if any(f in frame for f in focus) or any(k in key for k in _INTERESTING):
                inclusive[key] += n
    if not total:
        return "(profile is empty)"
    out = [f"  {total} busy samples", "  self time (leaf frames):"]
    out += [f"    {n / total:6.1%}  {name}" for name, n in self_time.most_common(top)]
    out.append("  inclusive time (app code and selected library calls):")
    out += [f"    {n / total:6.1%}  {name}" for name, n in inclusive.most_common(top)]
    return "\n".join(out)


_INTERESTING = ("enqueue_call (rq", "enqueue (rq", "commit (sqlalchemy/orm/session", "execute (sqlalchemy/orm/session",
                "_execute_context (sqlalchemy", "do_executemany", "executemany (psycopg", "execute (psycopg",
                "model_validate (pydantic", "jsonify (flask", "full_dispatch_request (flask", "get_json (flask",
                "parse (phonenumbers", "is_valid_number (phonenumbers", "format_number (phonenumbers",
                "_compile_w_cache", "compile (sqlalchemy", "handle_request (gunicorn", "perform_job (rq",
                "_connection_for_bind", "pre_ping", "_do_ping", "remove (sqlalchemy")


def _short(frame: str) -> str:
    """``func (path/to/site-packages/pkg/mod.py:123)`` -> ``func (pkg/mod.py:123)``."""
    name, _, where = frame.partition(" (")
    where = where.rstrip(")")
    if ":" in where:
        where = where.rsplit(":", 1)[0]
    for marker in ("site-packages/", "/src/app/", "/work/main/app/", "/lib/python3.11/"):
        if marker in where:
            where = ("app/" if "/app/" in marker else "") + where.split(marker, 1)[1]
            break
    return f"{name} ({where})"


# --------------------------------------------------------------------------------------------
# What PostgreSQL is busy with: sampled pg_stat_activity (a poor man's database profiler)


class PgActivitySampler:
    """Samples the active backends of the benchmark database every ``interval`` seconds from a
    thread; ``report()`` says how many backends were active on average and on which statements
    and wait events (``CPU`` = running, not waiting)."""

    def __init__(self, stack: "Stack", interval: float = 0.05) -> None:
        import threading
        from collections import Counter

        self.stack, self.interval = stack, interval
        self.by_query: Counter = Counter()
        self.by_wait: Counter = Counter()
        self.samples = 0
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> "PgActivitySampler":
        if self.stack.is_postgres:
            self.thread.start()
        return self

    def _run(self) -> None:
        import re

        import psycopg

        squash = re.compile(r"\s+")
        with psycopg.connect(self.stack.database_url, autocommit=True) as conn:
            while not self.stop_event.wait(self.interval):
                rows = conn.execute(
                    "SELECT coalesce(wait_event_type || ':' || wait_event, 'CPU'), left(query, 400) "
                    "FROM pg_stat_activity WHERE datname = current_database() AND state = 'active' "
                    "AND pid <> pg_backend_pid()").fetchall()
                self.samples += 1
                for wait, query in rows:
                    q = squash.sub(" ", query).strip()
                    q = re.sub(r"\$\d+(, \$\d+)+", "$n...", q)
                    self.by_query[(q[:110], wait)] += 1
                    self.by_wait[wait] += 1

    def stop(self) -> None:
        self.stop_event.set()
        if self.thread.is_alive():
            self.thread.join(5)

    def report(self, top: int = 12) -> str:
        if not self.samples:
            return "  (no pg_stat_activity samples)"
        busy = sum(self.by_wait.values())
        out = [f"  PostgreSQL: {busy / self.samples:.2f} backends active on average "
               f"({self.samples} samples every {self.interval * 1000:.0f} ms); by wait event: "
               + ", ".join(f"{w} {n / busy:.0%}" for w, n in self.by_wait.most_common(6))]
        for (query, wait), n in self.by_query.most_common(top):
            out.append(f"    {n / busy:6.1%}  [{wait}] {query}")
        return "\n".join(out)
