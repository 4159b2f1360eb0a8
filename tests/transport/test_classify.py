"""Every httpx failure maps to one error class and one delivery certainty."""

from __future__ import annotations

import httpx
import pytest
import respx

from crowdsms._transport.classify import UnsentWriteTimeout, error_for_exception
from crowdsms.errors import (
    ConfigurationError,
    ConnectionFailedError,
    CrowdSMSError,
    DeliveryCertainty,
    RequestError,
    RequestTimeoutError,
    ResponseParseError,
)

from .fakes import BASE_URL, DemoClient, FakeTime, send_request

NOT_SENT = DeliveryCertainty.NOT_SENT
UNKNOWN = DeliveryCertainty.UNKNOWN

TABLE: list[tuple[Exception, type[CrowdSMSError], DeliveryCertainty | None]] = [
    # Timeouts: connecting and waiting for a connection happen before the request is sent.
    (httpx.ConnectTimeout("connect"), RequestTimeoutError, NOT_SENT),
    (httpx.PoolTimeout("pool"), RequestTimeoutError, NOT_SENT),
    # A timed-out write is "not sent" only where the lane dropped the rest for sure.
    (UnsentWriteTimeout("write"), RequestTimeoutError, NOT_SENT),
    (httpx.WriteTimeout("write"), RequestTimeoutError, UNKNOWN),
    (httpx.ReadTimeout("read"), RequestTimeoutError, UNKNOWN),
    (httpx.TimeoutException("some timeout"), RequestTimeoutError, UNKNOWN),
    # Network and protocol errors.
    (httpx.ConnectError("refused"), ConnectionFailedError, NOT_SENT),
    (httpx.ProxyError("proxy said no"), ConnectionFailedError, NOT_SENT),
    (httpx.WriteError("broken pipe"), ConnectionFailedError, NOT_SENT),
    (httpx.LocalProtocolError("bad header"), ConnectionFailedError, NOT_SENT),
    (httpx.ReadError("reset"), ConnectionFailedError, UNKNOWN),
    (httpx.RemoteProtocolError("server disconnected"), ConnectionFailedError, UNKNOWN),
    (httpx.CloseError("close failed"), ConnectionFailedError, UNKNOWN),
    (httpx.NetworkError("network"), ConnectionFailedError, UNKNOWN),
    (httpx.ProtocolError("protocol"), ConnectionFailedError, UNKNOWN),
    (httpx.TransportError("transport"), ConnectionFailedError, UNKNOWN),
    (httpx.TooManyRedirects("redirects"), ConnectionFailedError, UNKNOWN),
    # The answer's content encoding is broken: the request was processed, maybe.
    (httpx.DecodingError("bad gzip"), ResponseParseError, UNKNOWN),
    # Configuration: no certainty, these are not request failures.
    (httpx.UnsupportedProtocol("ftp"), ConfigurationError, None),
    (httpx.InvalidURL("bad url"), ConfigurationError, None),
]


@pytest.mark.parametrize(
    ("exc", "error_class", "certainty"),
    TABLE,
    ids=[type(row[0]).__name__ for row in TABLE],
)
def test_classification_table(
    exc: Exception, error_class: type[CrowdSMSError], certainty: DeliveryCertainty | None
) -> None:
    error = error_for_exception(exc, operation="sms.send")
    assert type(error) is error_class
    if certainty is None:
        assert not isinstance(error, RequestError)
    else:
        assert isinstance(error, RequestError)
        assert error.certainty is certainty
        assert error.operation == "sms.send"
    message = str(error)
    assert "sms.send" in message
    assert type(exc).__name__ in message  # what was received
    assert error.action  # what to do


def test_the_table_covers_every_httpx_exception_class() -> None:
    def subclasses(cls: type[BaseException]) -> set[type[BaseException]]:
        found = set()
        for sub in cls.__subclasses__():
            if sub.__module__.startswith("httpx"):
                found.add(sub)
                found |= subclasses(sub)
        return found

    covered = {type(row[0]) for row in TABLE}
    raised_during_a_send = subclasses(httpx.RequestError)
    assert raised_during_a_send <= covered, raised_during_a_send - covered


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("exc", "error_class", "certainty"),
    [
        (httpx.ConnectTimeout("connect"), RequestTimeoutError, NOT_SENT),
        (httpx.ReadError("reset"), ConnectionFailedError, UNKNOWN),
        (httpx.DecodingError("bad gzip"), ResponseParseError, UNKNOWN),
    ],
)
async def test_the_transport_raises_the_classified_error(
    exc: Exception, error_class: type[RequestError], certainty: DeliveryCertainty
) -> None:
    from crowdsms._transport import RetryPolicy

    client = DemoClient(runtime=FakeTime().runtime, retry_policy=RetryPolicy.no_retries())
    with respx.mock(base_url=BASE_URL) as mock:
        mock.post("/send").mock(side_effect=exc)
        with pytest.raises(error_class) as caught:
            await client.call(send_request())
    await client.aclose()
    assert caught.value.certainty is certainty
    assert caught.value.__cause__ is None or isinstance(caught.value.__cause__, httpx.HTTPError)


@pytest.mark.anyio
async def test_a_configuration_failure_is_raised_at_once_and_never_retried() -> None:
    fake = FakeTime()
    client = DemoClient(runtime=fake.runtime)
    with respx.mock(base_url=BASE_URL) as mock:
        route = mock.post("/send").mock(side_effect=httpx.UnsupportedProtocol("nope"))
        with pytest.raises(ConfigurationError, match="base_url"):
            await client.call(send_request(idempotent=True))
    await client.aclose()
    assert route.call_count == 1
    assert fake.sleeps == []
