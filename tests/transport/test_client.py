"""``check_base_url`` and the lifecycle and options of ``AsyncClientBase``."""

from __future__ import annotations

import traceback

import httpx
import pytest

from crowdsms._client import check_base_url
from crowdsms._transport import AutoLanes, ClientSender, LanePool, TransportSender
from crowdsms.errors import ConfigurationError

from .fakes import DemoClient, FakeTime, send_request


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://api-v4.mysubmail.com", "https://api-v4.mysubmail.com"),
        ("https://api.example.com/v2/", "https://api.example.com/v2"),
        ("http://localhost:8080", "http://localhost:8080"),
        ("http://sandbox.localhost", "http://sandbox.localhost"),
        ("http://127.0.0.1:9000/", "http://127.0.0.1:9000"),
        ("http://127.8.9.10", "http://127.8.9.10"),
        ("http://[::1]:8000", "http://[::1]:8000"),
    ],
)
def test_secure_or_local_urls_are_accepted(url: str, expected: str) -> None:
    assert check_base_url(url, allow_insecure_http=False) == expected


@pytest.mark.parametrize(
    "url",
    [
        "http://api.example.com",
        "http://10.0.0.8:8080",
        "http://[2001:db8::1]",
        "http://localhost.evil.example",
        "http://127.0.0.1.nip.io",
    ],
)
def test_plain_http_to_a_remote_host_is_refused_with_a_clear_message(url: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        check_base_url(url, allow_insecure_http=False)
    message = str(caught.value)
    assert "plain http" in message
    assert "unencrypted" in message
    assert "https" in message
    assert "allow_insecure_http=True" in message
    assert url in message  # what was received


def test_plain_http_to_a_remote_host_is_allowed_when_asked() -> None:
    assert check_base_url("http://api.example.com/", allow_insecure_http=True) == (
        "http://api.example.com"
    )


@pytest.mark.parametrize(
    "url",
    [
        "not a url",
        "api.example.com",
        "",
        "ftp://api.example.com",
        "https://",
        "//api.example.com",
        "https://api.example.com/?key=1",
        "https://api.example.com/#top",
        "https://exa mple.com",
        " https://api.example.com",
        "https://api.example.com/v 2",
        123,
        None,
    ],
)
def test_garbage_is_refused(url: object) -> None:
    with pytest.raises(ConfigurationError) as caught:
        check_base_url(url, allow_insecure_http=False)  # type: ignore[arg-type]
    assert "base_url" in str(caught.value)
    assert "Received:" in str(caught.value)


def test_the_client_checks_its_base_url_before_anything_else() -> None:
    with pytest.raises(ConfigurationError, match="plain http"):
        DemoClient(base_url="http://api.example.com")


class _RecordingTransport(httpx.AsyncBaseTransport):
    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.closed = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return httpx.Response(200, json={"ok": True})

    async def aclose(self) -> None:
        self.closed = True


@pytest.mark.anyio
async def test_a_users_http_client_is_used_and_not_closed() -> None:
    recording = _RecordingTransport()
    http_client = httpx.AsyncClient(transport=recording)
    async with DemoClient(http_client=http_client, runtime=FakeTime().runtime) as client:
        assert isinstance(client._transport.sender, ClientSender)
        response = await client.call(send_request())
    assert response.status_code == 200
    assert len(recording.requests) == 1
    assert not http_client.is_closed
    assert not recording.closed
    await http_client.aclose()
    assert recording.closed


@pytest.mark.anyio
async def test_a_users_http_client_that_follows_redirects_follows_none_of_ours() -> None:
    hosts: list[str] = []

    def elsewhere(request: httpx.Request) -> httpx.Response:
        hosts.append(request.url.host)
        return httpx.Response(307, headers={"location": "https://elsewhere.example/collect"})

    http_client = httpx.AsyncClient(transport=httpx.MockTransport(elsewhere), follow_redirects=True)
    async with DemoClient(http_client=http_client, runtime=FakeTime().runtime) as client:
        response = await client.call(send_request())
    await http_client.aclose()
    assert response.status_code == 307  # the request (and its signature) went nowhere else
    assert "elsewhere.example" not in hosts


@pytest.mark.anyio
async def test_a_users_transport_is_used_as_given_and_not_closed() -> None:
    recording = _RecordingTransport()
    client = DemoClient(transport=recording, runtime=FakeTime().runtime)
    assert isinstance(client._transport.sender, TransportSender)
    await client.call(send_request())
    await client.aclose()
    await client.aclose()  # safe twice
    assert len(recording.requests) == 1
    request = recording.requests[0]
    assert request.method == "POST"
    assert str(request.url) == "https://api.demo.test/send"
    assert request.headers["content-type"].startswith("application/x-www-form-urlencoded")
    assert request.headers["user-agent"].startswith("crowdsms/")
    assert request.content == b"to=13800138000&text=hello"
    assert not recording.closed


@pytest.mark.anyio
async def test_the_default_lanes_are_closed_by_the_context_manager() -> None:
    async with DemoClient(max_connections=3) as client:
        lanes = client._transport.sender
        assert isinstance(lanes, AutoLanes)
        assert isinstance(lanes.pool, LanePool)  # chosen at once inside an event loop
        assert lanes.pool.size == 3
    with pytest.raises(RuntimeError, match="closed"):
        await client.call(send_request())


def test_http_client_and_transport_together_are_refused() -> None:
    with pytest.raises(ConfigurationError, match="not both"):
        DemoClient(http_client=httpx.AsyncClient(), transport=_RecordingTransport())


@pytest.mark.parametrize("value", [0, -3])
def test_max_connections_below_one_is_refused(value: int) -> None:
    with pytest.raises(ConfigurationError, match="max_connections"):
        DemoClient(max_connections=value)


@pytest.mark.parametrize("value", [0, -1.5])
def test_a_non_positive_timeout_is_refused(value: float) -> None:
    with pytest.raises(ConfigurationError, match="timeout"):
        DemoClient(timeout=value)


def test_a_number_timeout_applies_to_each_phase_but_not_the_pool_wait() -> None:
    client = DemoClient(timeout=7.5)
    timeout = client._transport.timeout
    assert (timeout.connect, timeout.read, timeout.write, timeout.pool) == (7.5, 7.5, 7.5, None)


def test_clock_offset_option_and_setter() -> None:
    fake = FakeTime()
    client = DemoClient(clock_offset=-42.0, runtime=fake.runtime)
    assert client.clock_offset == -42.0
    assert client._transport.clock.now() == fake.wall - 42.0
    client.set_clock_offset(3.0)
    assert client.clock_offset == 3.0


def test_repr_names_the_class_and_url_only() -> None:
    client = DemoClient()
    # Created outside an event loop: the lanes' library is chosen at the first request.
    assert repr(client) == "<DemoClient base_url='https://api.demo.test' http='auto'>"
    assert repr(client._transport) == "<Transport demo https://api.demo.test>"


@pytest.mark.parametrize(
    "url",
    [
        "htps://admin:hunter2@api.example.com",  # a wrong scheme
        "admin:hunter2@api.example.com",  # no scheme
        "https://admin:hunter2@[api.example.com",  # not a URL at all
        "https://admin:hunter2@api.example.com/v 2",  # a space
        "https://admin:hunt/er2@api.example.com",  # a password with a slash
        "ftp://admin:hunt/er2@api.example.com",
        "admin:hunt://er2@api.example.com",  # no scheme, a "://" in the password
        b"https://admin:hunt/er2@api.example.com",  # not text at all
    ],
)
def test_a_url_refused_for_another_reason_does_not_echo_its_credentials(url: object) -> None:
    with pytest.raises(ConfigurationError) as caught:
        check_base_url(url, allow_insecure_http=False)  # type: ignore[arg-type]
    shown = str(caught.value) + "".join(traceback.format_exception(caught.value))
    assert "hunter2" not in shown
    assert "er2" not in shown


def test_credentials_in_the_url_are_refused_without_echoing_them() -> None:
    with pytest.raises(ConfigurationError) as caught:
        check_base_url("https://admin:hunter2@api.example.com", allow_insecure_http=False)
    message = str(caught.value)
    assert "user name or password" in message
    assert "hunter2" not in message
    assert "admin" not in message
    assert "api.example.com" in message
