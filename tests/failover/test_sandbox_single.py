"""failover_send against the sandbox: one message, each provider's own send, sent once."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import anyio
import pytest
import pytest_asyncio

from crowdsms.errors import (
    ConnectionFailedError,
    DeliveryCertainty,
    ProviderError,
)
from crowdsms.failover import (
    FailoverCircuit,
    FailoverError,
    failover_send,
    failover_send_blocking,
)
from crowdsms.providers import _registry
from crowdsms.sandbox import FaultKind, Sandbox, SandboxSettings, serve, serve_in_thread

from .support import (
    BACKUP,
    PRIMARY,
    RUNTIME,
    TIME_LIMIT,
    assert_no_secret_logged,
    client,
    ledger,
)

PHONE = "13800138000"


@pytest_asyncio.fixture
async def sandbox() -> AsyncIterator[Sandbox]:
    async with serve() as served:
        yield served


@pytest.fixture(autouse=True)
def _no_secret_in_logs(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    yield
    assert_no_secret_logged([*caplog.get_records("setup"), *caplog.get_records("call")])


def attempts(primary: Any, backup: Any) -> list[tuple[str, Callable[[], Awaitable[object]]]]:
    """The same code message, as each provider defines it."""
    return [
        (PRIMARY, lambda: primary.sms.send(to=PHONE, content="【沙箱】您的验证码是1234。")),
        (
            BACKUP,
            lambda: backup.sms.send(template_id=1, phones=[PHONE], vars={"%code%": "1234"}),
        ),
    ]


@pytest.mark.asyncio
async def test_a_503_moves_the_send_to_the_second_provider(sandbox: Sandbox) -> None:
    sandbox.force_fault(FaultKind.REJECT, provider=PRIMARY, path="sms/send", count=10)
    async with client(sandbox, PRIMARY) as primary, client(sandbox, BACKUP) as backup:
        with anyio.fail_after(TIME_LIMIT):
            result = await failover_send(attempts(primary, backup))
    assert result.provider == BACKUP
    assert [name for name, _ in result.passed_over] == [PRIMARY]
    assert ledger(sandbox, PRIMARY) == []
    assert ledger(sandbox, BACKUP) == [PHONE]


@pytest.mark.asyncio
async def test_a_send_processed_then_dropped_is_raised_and_never_tried_elsewhere(
    sandbox: Sandbox,
) -> None:
    sandbox.force_fault(FaultKind.DROP_AFTER, provider=PRIMARY, path="sms/send")
    async with client(sandbox, PRIMARY) as primary, client(sandbox, BACKUP) as backup:
        with anyio.fail_after(TIME_LIMIT), pytest.raises(ConnectionFailedError) as caught:
            await failover_send(attempts(primary, backup))
    assert caught.value.certainty is DeliveryCertainty.UNKNOWN
    assert sandbox.requests(BACKUP) == 0
    assert ledger(sandbox, PRIMARY) == [PHONE]


@pytest.mark.asyncio
async def test_a_blocked_number_is_refused_and_not_tried_elsewhere() -> None:
    async with serve(SandboxSettings(blocked_numbers={PHONE})) as sandbox:
        async with client(sandbox, PRIMARY) as primary, client(sandbox, BACKUP) as backup:
            with anyio.fail_after(TIME_LIMIT), pytest.raises(ProviderError) as caught:
                await failover_send(attempts(primary, backup))
        assert sandbox.requests(BACKUP) == 0
    assert caught.value.code == "114"


@pytest.mark.asyncio
async def test_refused_credentials_fail_over_and_a_shared_circuit_skips_that_provider(
    sandbox: Sandbox,
) -> None:
    spec = _registry.get(PRIMARY)
    secret = next(field.name for field in spec.credentials if field.secret)
    wrong = {**sandbox.credentials(PRIMARY), secret: "not-the-key-0000"}
    circuit = FailoverCircuit()
    async with (
        spec.make_client(wrong, base_url=sandbox.base_url(PRIMARY), runtime=RUNTIME) as primary,
        client(sandbox, BACKUP) as backup,
    ):
        with anyio.fail_after(TIME_LIMIT):
            first = await failover_send(attempts(primary, backup), circuit=circuit)
            tried = sandbox.requests(PRIMARY)
            second = await failover_send(attempts(primary, backup), circuit=circuit)
    assert (first.provider, second.provider) == (BACKUP, BACKUP)
    assert circuit.is_open(PRIMARY)
    assert sandbox.requests(PRIMARY) == tried  # the second send did not try it
    assert ledger(sandbox, BACKUP) == [PHONE, PHONE]  # two sends asked for, two sent
    assert ledger(sandbox, PRIMARY) == []


@pytest.mark.asyncio
async def test_when_no_provider_could_send_the_error_lists_each(sandbox: Sandbox) -> None:
    sandbox.force_fault(FaultKind.REJECT, count=100)
    async with client(sandbox, PRIMARY) as primary, client(sandbox, BACKUP) as backup:
        with anyio.fail_after(TIME_LIMIT), pytest.raises(FailoverError) as caught:
            await failover_send(attempts(primary, backup))
    assert [name for name, _ in caught.value.errors] == [PRIMARY, BACKUP]
    assert caught.value.certainty is DeliveryCertainty.NOT_SENT
    assert len(sandbox.ledger) == 0


def test_the_blocking_twin_with_blocking_clients() -> None:
    with serve_in_thread() as sandbox:
        sandbox.force_fault(FaultKind.REJECT, provider=PRIMARY, path="sms/send", count=10)
        primary_spec, backup_spec = _registry.get(PRIMARY), _registry.get(BACKUP)
        with (
            primary_spec.blocking_client(
                **sandbox.credentials(PRIMARY), base_url=sandbox.base_url(PRIMARY), runtime=RUNTIME
            ) as primary,
            backup_spec.blocking_client(
                **sandbox.credentials(BACKUP), base_url=sandbox.base_url(BACKUP)
            ) as backup,
        ):
            result = failover_send_blocking(
                [
                    (PRIMARY, lambda: primary.sms.send(to=PHONE, content="【沙箱】验证码1234。")),
                    (
                        BACKUP,
                        lambda: backup.sms.send(
                            template_id=1, phones=[PHONE], vars={"%code%": "1234"}
                        ),
                    ),
                ]
            )
        assert result.provider == BACKUP
        assert ledger(sandbox, BACKUP) == [PHONE]
        assert ledger(sandbox, PRIMARY) == []
