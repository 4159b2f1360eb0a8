"""Helpers shared by the reliability suites."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from crowdsms.batch import BatchOutcome
from crowdsms.outcomes import ChunkSender, OutcomeStatus, Recipient
from crowdsms.providers.crowdtask import AsyncCrowdTask
from crowdsms.providers.paasw import AsyncPaasw, SmsKind
from crowdsms.providers.sendcloud import AsyncSendCloud
from crowdsms.providers.submail import AsyncSubmail
from crowdsms.sandbox import Ledger
from crowdsms.sandbox.emulators.crowdtask import CROWDTASK_ACCESS_ID, CROWDTASK_SECRET
from crowdsms.sandbox.emulators.paasw import PAASW_APP_ID, PAASW_SECRET
from crowdsms.sandbox.emulators.sendcloud import SENDCLOUD_SMS_KEY, SENDCLOUD_SMS_USER
from crowdsms.sandbox.emulators.submail import SUBMAIL_APPID, SUBMAIL_APPKEY

__all__ = [
    "PROVIDERS",
    "SECRETS",
    "Client",
    "assert_ledger_has_no_duplicates",
    "assert_one_outcome_each",
    "batch_recipients",
    "chunk_sender",
    "make_client",
    "phone",
    "phones_with",
]

PROVIDERS = ("submail", "sendcloud", "crowdtask", "paasw")
SECRETS = {
    "submail": SUBMAIL_APPKEY,
    "sendcloud": SENDCLOUD_SMS_KEY,
    "crowdtask": CROWDTASK_SECRET,
    "paasw": PAASW_SECRET,
}
"""The sandbox's default key (or secret) of each provider."""

Client = AsyncSubmail | AsyncSendCloud | AsyncCrowdTask | AsyncPaasw


def make_client(
    provider: str, base_url: str, *, secret: str | None = None, **options: Any
) -> Client:
    """A client of ``provider`` with the sandbox's default account (or another ``secret``)."""
    key = SECRETS[provider] if secret is None else secret
    if provider == "submail":
        return AsyncSubmail(app_id=SUBMAIL_APPID, app_key=key, base_url=base_url, **options)
    if provider == "sendcloud":
        return AsyncSendCloud(
            sms_user=SENDCLOUD_SMS_USER, sms_key=key, base_url=base_url, **options
        )
    if provider == "crowdtask":
        return AsyncCrowdTask(
            access_id=CROWDTASK_ACCESS_ID, access_secret_key=key, base_url=base_url, **options
        )
    return AsyncPaasw(app_id=PAASW_APP_ID, secret=key, base_url=base_url, **options)


def chunk_sender(client: Client) -> ChunkSender:
    """The batch sender's view of each provider's main send."""
    if isinstance(client, AsyncSubmail):
        return client.sms.multisend_chunks(content="【测试】@var(name)，您好")
    if isinstance(client, AsyncSendCloud):
        return client.sms.sendn_chunks(template_id=1)  # 【SANDBOX】...%code%...
    if isinstance(client, AsyncCrowdTask):
        return client.tasks.batch_chunks(project_id=7, columns=["img"])
    return client.sms.send_chunks(sign="测试", content="【测试】您好", kind=SmsKind.NOTICE)


def batch_recipients(provider: str, count: int) -> list[Recipient]:
    """``count`` recipients with what ``chunk_sender``'s content needs."""
    if provider == "crowdtask":  # a task row each; the number only names the row
        return [Recipient(phone(i), {"img": f"{i}.jpg"}) for i in range(count)]
    if provider == "paasw":  # one text for all
        return [Recipient(phone(i)) for i in range(count)]
    if provider == "sendcloud":
        return [Recipient(phone(i), {"code": f"{i:06d}"}) for i in range(count)]
    return [Recipient(phone(i), {"name": f"u{i}"}) for i in range(count)]


def phone(index: int, prefix: str = "138") -> str:
    """The ``index``-th test number: 11 digits, a valid mainland mobile number."""
    return f"{prefix}{index:08d}"


def assert_one_outcome_each(outcomes: Sequence[BatchOutcome], inputs: Sequence[str]) -> None:
    """Every input position has exactly one outcome, emitted in input order."""
    assert [outcome.position for outcome in outcomes] == list(range(len(inputs)))
    assert [outcome.input_phone for outcome in outcomes] == list(inputs)
    assert [outcome.outcome.phone for outcome in outcomes] == list(inputs)


def phones_with(outcomes: Sequence[BatchOutcome], status: OutcomeStatus) -> set[str]:
    """The numbers whose outcome has ``status``."""
    return {outcome.outcome.phone for outcome in outcomes if outcome.status is status}


def assert_ledger_has_no_duplicates(ledger: Ledger, *, provider: str) -> list[str]:
    """No number was sent twice; return the numbers sent, in ledger order."""
    assert ledger.duplicates(provider=provider) == {}
    sent = [entry.phone or "" for entry in ledger.entries(provider=provider)]
    assert "" not in sent
    twice = {number: count for number, count in Counter(sent).items() if count > 1}
    assert twice == {}, f"numbers sent more than once: {sorted(twice)[:10]}"
    return sent
