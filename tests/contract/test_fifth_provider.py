"""A fifth provider needs its folder, its registry entry and its emulator: nothing else.

The fake provider of :mod:`fake_provider` is registered at run time; the command line, the
config loader, the sandbox and the webhook app reach it without any file of the package
being edited for it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from crowdsms._credentials import load_credentials
from crowdsms.cli import main
from crowdsms.providers import _registry
from crowdsms.providers._spec import ProviderSpec
from crowdsms.sandbox import serve, serve_in_thread
from crowdsms.webhooks import DeliveryEvent, WebhookApp

from .fake_provider import SANDBOX_KEY, SANDBOX_USER, SPEC, AsyncFake, Fake, FakeWebhook

PHONES = ["13800138000", "13900139001", "15000150002"]


@pytest.fixture
def fake() -> Iterator[ProviderSpec]:
    with _registry.registered(SPEC) as spec:
        yield spec


def test_it_is_registered_and_then_gone(fake: ProviderSpec) -> None:
    assert _registry.get("fake") is fake
    assert "fake" in _registry.names()


def test_after_the_test_it_is_gone() -> None:
    assert "fake" not in _registry.names()


def test_names_are_checked() -> None:
    with pytest.raises(Exception, match="did you mean 'submail'"):
        _registry.get("submial")
    with pytest.raises(Exception, match="registered already"):
        _registry.register(_registry.get("submail"))


def test_config_file_and_environment(
    fake: ProviderSpec, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "crowdsms.toml"
    config.write_text('[fake]\nuser = "alice"\nkey = "k-1"\n')
    loaded = load_credentials("fake", config=config)
    assert loaded is not None
    assert loaded.values["user"] == "alice"
    assert "k-1" not in repr(loaded)
    monkeypatch.setenv("CROWDSMS_FAKE_USER", "bob")
    monkeypatch.setenv("CROWDSMS_FAKE_KEY", "k-2")
    from_env = load_credentials("fake", config=config)
    assert from_env is not None
    assert from_env.values["user"] == "bob"


@pytest.mark.asyncio
async def test_the_sandbox_serves_it(fake: ProviderSpec) -> None:
    async with serve() as sandbox:
        assert sandbox.base_url("fake").endswith("/fake")
        assert sandbox.credentials("fake") == {"user": SANDBOX_USER, "key": SANDBOX_KEY}
        async with sandbox.client("fake") as client:
            assert isinstance(client, AsyncFake)
            result = await client.sms.send(phones=PHONES, text="hi")
        assert [o.phone for o in result.outcomes] == PHONES
        assert sandbox.ledger.phones(provider="fake") == PHONES


def test_the_blocking_twin(fake: ProviderSpec) -> None:
    with (
        serve_in_thread() as sandbox,
        Fake(**sandbox.credentials("fake"), base_url=sandbox.base_url("fake")) as client,
    ):
        result = client.sms.send(phones=PHONES[:1], text="hi")
    assert [o.phone for o in result.outcomes] == PHONES[:1]


def test_the_command_line_sends_through_it(
    fake: ProviderSpec, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    recipients = tmp_path / "recipients.csv"
    recipients.write_text("phone\n" + "\n".join(PHONES) + "\n")
    with serve_in_thread() as sandbox:
        (tmp_path / "empty.toml").write_text("")
        monkeypatch.setenv("CROWDSMS_CONFIG", str(tmp_path / "empty.toml"))
        monkeypatch.setenv("CROWDSMS_FAKE_USER", SANDBOX_USER)
        monkeypatch.setenv("CROWDSMS_FAKE_KEY", SANDBOX_KEY)
        monkeypatch.setenv("CROWDSMS_FAKE_BASE_URL", sandbox.base_url("fake"))
        status = main(
            ["send", str(recipients), "--provider", "fake", "--content", "hello", "--quiet"]
        )
        sent = sandbox.ledger.phones(provider="fake")
    assert status == 0
    assert sorted(sent) == sorted(PHONES)


def test_the_command_line_lists_it(fake: ProviderSpec, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["providers"]) == 0
    out = capsys.readouterr().out
    assert "fake" in out
    assert "CROWDSMS_FAKE_KEY" in out


@pytest.mark.asyncio
async def test_the_webhook_app_routes_its_pushes(fake: ProviderSpec) -> None:
    events: list[DeliveryEvent] = []

    async def record(event: DeliveryEvent) -> None:
        events.append(event)

    app = WebhookApp(fake=FakeWebhook(), handlers={DeliveryEvent: record})
    assert app.paths == {"/fake": "fake"}
    body = json.dumps([{"id": "fk1", "phone": PHONES[0], "ok": True}])
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://hooks") as client:
        answer = await client.post("/fake", content=body)
    assert answer.status_code == 200
    assert [(e.provider, e.message_id, e.delivered) for e in events] == [("fake", "fk1", True)]
