"""Issue 10: no key, secret or token shows up anywhere a person or a log collector can see.

A whole batch runs through each provider against the sandbox, with DEBUG logging for
every logger (crowdsms's, httpx's, httpcore's, uvicorn's), faults along the way (a 503, a
429, a request dropped after processing) and errors (a client with a wrong key); for
paasw also a token that expires on the gateway's side and is fetched again, and the GET
endpoints that carry the token in their query. Then the logs, the reprs and strings of
clients, chunk senders, results, reports and errors (with their causes) are searched for
the keys, the wrong key and every token the sandbox issued.

The command line is checked the same way: ``python -m crowdsms -vv send ... --sandbox``
for each provider, and paasw once more against this test's sandbox (so that the tokens
it was issued are known), its stdout, stderr and output file searched.
"""

from __future__ import annotations

import csv
import logging
import os
import subprocess
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path

import httpx
import pytest

from crowdsms import RetryPolicy
from crowdsms.batch import BatchOutcome, BatchSender
from crowdsms.errors import CrowdSMSError
from crowdsms.outcomes import Recipient
from crowdsms.providers.paasw import AsyncPaasw, SmsKind
from crowdsms.sandbox import FaultKind, serve, serve_in_thread
from crowdsms.sandbox.emulators.paasw import PAASW_APP_ID, PAASW_SECRET
from crowdsms.sandbox.emulators.submail import SUBMAIL_APPID

from ._support import PROVIDERS, SECRETS, batch_recipients, chunk_sender, make_client

FAST_RETRIES = RetryPolicy(initial_delay=0.01, max_delay=0.05)
WRONG_KEY = "wrong-key-4d1a9e7c55b0f2e8"  # a key a user mistyped is a secret too
SEND_PATHS = {
    "submail": "multisend",
    "sendcloud": "sendn",
    "crowdtask": "task/batch",
    "paasw": "sms/send",
}


TOKEN_QUERY = {"appId": PAASW_APP_ID, "secret": PAASW_SECRET}


def fetch_token(base_url: str) -> str:
    """The token the sandbox currently issues to the default paasw app (the same while valid)."""
    token = httpx.get(f"{base_url}/api/token", params=TOKEN_QUERY).json()["token"]
    assert isinstance(token, str)
    assert len(token) > 20
    return token


async def fetch_token_async(base_url: str) -> str:
    """:func:`fetch_token`, for a sandbox served on the test's own event loop.

    httpx logs every URL its clients fetch at INFO, this one's secret included: the
    test's own fetch must not be mistaken for a leak by the SDK.
    """
    httpx_logger = logging.getLogger("httpx")
    level = httpx_logger.level
    httpx_logger.setLevel(logging.WARNING)
    try:
        async with httpx.AsyncClient() as http:
            answer = await http.get(f"{base_url}/api/token", params=TOKEN_QUERY)
    finally:
        httpx_logger.setLevel(level)
    token = answer.json()["token"]
    assert isinstance(token, str)
    assert len(token) > 20
    return token


def exception_chain(error: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def texts_of_error(error: BaseException) -> list[str]:
    texts = []
    for item in exception_chain(error):
        texts += [str(item), repr(item), repr(vars(item))]
    return texts


def assert_nothing_secret(texts: Iterable[str], secrets: Iterable[str]) -> None:
    secrets = [secret for secret in secrets if secret]
    for text in texts:
        for secret in secrets:
            # Tokens hold + / =: look for them URL-encoded too.
            for form in {secret, httpx.QueryParams({"t": secret}).get("t"), _quoted(secret)}:
                assert form is None or form not in text, f"a secret leaked into: {text[:300]!r}"


def _quoted(secret: str) -> str:
    return str(httpx.QueryParams({"t": secret})).removeprefix("t=")


def log_texts(caplog: pytest.LogCaptureFixture) -> list[str]:
    texts = [caplog.text]
    for record in caplog.records:
        texts += [record.getMessage(), repr(record.args), repr(record.__dict__)]
    return texts


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.asyncio
async def test_no_secret_in_logs_reprs_results_or_errors(
    provider: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # every logger, not only crowdsms's
    seen: list[str] = []
    errors: list[BaseException] = []
    tokens: list[str] = []
    async with serve() as sandbox:
        base_url = sandbox.base_url(provider)
        path = SEND_PATHS[provider]
        sandbox.force_fault(FaultKind.REJECT, path=path)
        sandbox.force_fault(FaultKind.RATE_LIMIT, path=path)
        sandbox.force_fault(FaultKind.DROP_AFTER, path=path)
        sandbox.set_faults(retry_after=0)
        async with make_client(provider, base_url, retry_policy=FAST_RETRIES) as client:
            sender = chunk_sender(client)
            batch = BatchSender(sender, chunk_size=20, concurrency=4)
            outcomes: list[BatchOutcome] = []
            recipients = [*batch_recipients(provider, 200), Recipient("12345")]
            report = await batch.send(recipients, sink=outcomes.append)
            seen += [repr(client), str(client), repr(sender), repr(batch)]
            seen += [repr(vars(client))]
            seen += [
                repr(getattr(client, name)) for name in ("sms", "tasks") if hasattr(client, name)
            ]
            if isinstance(client, AsyncPaasw):
                tokens.append(await fetch_token_async(base_url))
                seen += [repr(await client.account.balance())]
                sandbox.advance_clock(7300)  # the gateway expires the token; the client
                result = await client.sms.send(  # learns it from the refusal and refreshes
                    phones=[recipients[0].phone],
                    sign="测试",
                    content="【测试】您好",
                    kind=SmsKind.NOTICE,
                )
                seen += [repr(result), str(result)]
                seen += [repr(await client.reports.pull_deliveries())]
                tokens.append(await fetch_token_async(base_url))
                assert tokens[0] != tokens[1]
        assert report.sent > 0
        assert report.skipped == 1
        # The request dropped after processing is unknown (SendCloud resends it safely).
        assert report.unknown == (0 if provider == "sendcloud" else 20)
        seen += [repr(report), str(report), *(repr(o) for o in outcomes)]
        seen += [str(o.to_dict()) for o in outcomes]

        async with make_client(provider, base_url, secret=WRONG_KEY) as wrong:
            try:
                await chunk_sender(wrong).send_chunk(batch_recipients(provider, 1))
            except CrowdSMSError as refused:
                errors.append(refused)
            seen += [repr(wrong)]
        assert errors, "a wrong key must be refused"
        for error in errors:
            seen += texts_of_error(error)

    logged = log_texts(caplog)
    assert any(f"{provider}." in text and "attempt 1" in text for text in logged)
    assert_nothing_secret([*seen, *logged], [*SECRETS.values(), WRONG_KEY, *tokens])


@pytest.mark.asyncio
async def test_no_secret_in_the_url_log_of_a_users_own_http_client(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A user's ``httpx.AsyncClient`` logs each URL at INFO; paasw puts credentials there."""
    caplog.set_level(logging.DEBUG)
    async with serve() as sandbox, httpx.AsyncClient() as http:
        base_url = sandbox.base_url("paasw")
        async with make_client("paasw", base_url, http_client=http) as client:
            assert isinstance(client, AsyncPaasw)
            report = await BatchSender(chunk_sender(client), chunk_size=20).send(
                batch_recipients("paasw", 100)
            )
            await client.account.balance()  # GET /sms/balance?token=...
            token = await fetch_token_async(base_url)
    assert report.sent == 100
    requests = [r.getMessage() for r in caplog.records if r.name == "httpx"]
    assert any("/api/token?" in text for text in requests)  # httpx did log the URLs
    assert any("/sms/balance?" in text for text in requests)
    assert_nothing_secret(log_texts(caplog), [PAASW_SECRET, token])


# -- the command line ------------------------------------------------------------------------

CLI_SENDS = {
    "submail": ["--content", "【测试】@var(name)，您好"],
    "sendcloud": ["--template-id", "1"],
    "crowdtask": ["--project-id", "7"],
    "paasw": ["--content", "【测试】您好", "--kind", "2"],
}
CLI_COLUMNS = {"submail": "name", "sendcloud": "code", "crowdtask": "img", "paasw": None}


def write_recipients(path: Path, provider: str) -> Path:
    column = CLI_COLUMNS[provider]
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["phone", column] if column else ["phone"])
        for recipient in batch_recipients(provider, 60):
            values = [recipient.phone]
            if column:
                values.append(recipient.vars[column])
            writer.writerow(values)
    return path


def run_cli(
    tmp_path: Path, provider: str, *extra: str, env: dict[str, str] | None = None
) -> tuple[subprocess.CompletedProcess[str], str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CROWDSMS_")}
    (tmp_path / "no-config.toml").write_text("")
    clean["CROWDSMS_CONFIG"] = str(tmp_path / "no-config.toml")
    clean["COLUMNS"] = "200"
    clean.update(env or {})
    contacts = write_recipients(tmp_path / f"{provider}.csv", provider)
    output = tmp_path / f"{provider}-outcomes.jsonl"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "crowdsms",
            "-vv",
            "send",
            str(contacts),
            "--provider",
            provider,
            *CLI_SENDS[provider],
            "--output",
            str(output),
            *extra,
        ],
        cwd=tmp_path,
        env=clean,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return result, output.read_text(encoding="utf-8") if output.exists() else ""


def first_token_of_a_default_sandbox() -> str:
    """The embedded sandbox's first paasw token: a default sandbox's tokens are seeded."""
    with serve_in_thread() as fresh:
        return fetch_token(fresh.base_url("paasw"))


@pytest.mark.parametrize("provider", PROVIDERS)
def test_cli_prints_no_secret(provider: str, tmp_path: Path) -> None:
    result, outcomes = run_cli(tmp_path, provider, "--sandbox")
    assert result.returncode == 0, result.stderr
    assert "DEBUG" in result.stderr  # -vv really logged at DEBUG
    assert outcomes.count('"status":"sent"') == 60
    secrets = [*SECRETS.values()]
    if provider == "paasw":
        secrets.append(first_token_of_a_default_sandbox())
    assert_nothing_secret([result.stdout, result.stderr, outcomes], secrets)


def test_cli_against_a_configured_paasw_prints_no_secret_nor_token(tmp_path: Path) -> None:
    with serve_in_thread() as sandbox:
        env = {
            "CROWDSMS_PAASW_APP_ID": PAASW_APP_ID,
            "CROWDSMS_PAASW_SECRET": PAASW_SECRET,
            "CROWDSMS_PAASW_BASE_URL": sandbox.base_url("paasw"),
        }
        result, outcomes = run_cli(tmp_path, "paasw", env=env)
        token = fetch_token(sandbox.base_url("paasw"))  # the token the command was issued
        sent = len(sandbox.ledger.entries(provider="paasw"))
    assert result.returncode == 0, result.stderr
    assert sent == 60
    assert "embedded sandbox" not in result.stderr
    assert_nothing_secret([result.stdout, result.stderr, outcomes], [PAASW_SECRET, token])


def test_cli_with_a_wrong_key_prints_neither_key(tmp_path: Path) -> None:
    with serve_in_thread() as sandbox:
        env = {
            "CROWDSMS_SUBMAIL_APP_ID": SUBMAIL_APPID,
            "CROWDSMS_SUBMAIL_APP_KEY": WRONG_KEY,
            "CROWDSMS_SUBMAIL_BASE_URL": sandbox.base_url("submail"),
        }
        result, outcomes = run_cli(tmp_path, "submail", env=env)
        assert sandbox.ledger.entries() == []
    assert '"status":"failed"' in outcomes or result.returncode != 0
    assert_nothing_secret([result.stdout, result.stderr, outcomes], [WRONG_KEY, SECRETS["submail"]])


def test_the_search_finds_a_leak() -> None:
    """The checker itself: a token in clear, or URL-encoded in a query, is found."""
    token = "k67j+wkqz/6gtGHjo8KwrQ=="
    with pytest.raises(AssertionError):
        assert_nothing_secret(["GET /sms/balance?token=k67j%2Bwkqz%2F6gtGHjo8KwrQ%3D%3D"], [token])
    with pytest.raises(AssertionError):
        assert_nothing_secret([f"token is {token}"], [token])
    assert_nothing_secret(["nothing here"], [token])
