"""Each recipient is validated once per job: when screened, not again when its chunk is sent.

The batch sender hands each chunk to the chunk sender that validated it as
``CheckedRecipients``; a chunk sender skips its own check of those only. Recipients from
anywhere else (a plain list, another sender's ``CheckedRecipients``) are checked in full.
"""

from __future__ import annotations

import importlib
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import pytest

from crowdsms.batch import BatchOutcome, BatchSender
from crowdsms.errors import InvalidInputError
from crowdsms.outcomes import CheckedRecipients, OutcomeStatus, Recipient, RecipientOutcome
from crowdsms.phones import is_known_mobile, normalize_mainland_mobile
from crowdsms.providers import _registry
from crowdsms.providers._spec import ProviderSpec
from crowdsms.sandbox import serve

from .fakes import FakeChunkSender, phone_at

# Where each provider checks one recipient: every name its validate() and its send_chunk()
# reach that check by (patched, so each call is counted).
CHECKS = {
    "submail": [
        ("crowdsms.providers.submail._chunks", "check_recipient"),
        ("crowdsms.providers.submail._validation", "check_recipient"),
    ],
    "sendcloud": [
        ("crowdsms.providers.sendcloud._chunks", "check_recipient"),
        ("crowdsms.providers.sendcloud._validation", "check_recipient"),
    ],
    "paasw": [
        ("crowdsms.providers.paasw._chunks", "normalize_recipient_phone"),
        ("crowdsms.providers.paasw._chunks", "normalize_phone_list"),
        ("crowdsms.providers.paasw._validation", "normalize_phone_list"),
    ],
    "crowdtask": [("crowdsms.providers.crowdtask._chunks", "check_task_row")],
}


class Spy(FakeChunkSender):
    """A fake chunk sender that keeps each chunk as it was passed."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.received: list[Sequence[Recipient]] = []
        self.validated_phones: list[str] = []

    def validate(self, recipient: Recipient, *, position: int) -> Recipient:
        self.validated_phones.append(recipient.phone)
        return super().validate(recipient, position=position)

    async def send_chunk(
        self, recipients: Sequence[Recipient], *, idempotency_key: str | None = None
    ) -> Sequence[RecipientOutcome]:
        self.received.append(recipients)
        return await super().send_chunk(recipients, idempotency_key=idempotency_key)


@pytest.mark.anyio
async def test_each_recipient_is_validated_once_and_its_chunk_goes_out_checked() -> None:
    given = [Recipient(phone_at(position)) for position in range(120)]
    given[7] = Recipient("12345")  # invalid
    given[60] = Recipient(phone_at(3))  # a duplicate
    spy = Spy(max_chunk_size=50)
    outcomes: list[BatchOutcome] = []
    report = await BatchSender(spy).send(given, sink=outcomes.append)
    assert spy.validated == len(given)
    assert spy.validated_phones == [recipient.phone for recipient in given]
    assert report.sent == 118
    assert [o.outcome.code for o in outcomes if o.status is OutcomeStatus.SKIPPED] == [
        "invalid",
        "duplicate",
    ]
    assert len(spy.received) == 3
    for chunk in spy.received:
        assert isinstance(chunk, CheckedRecipients)
        assert chunk.checked_by is spy


def _recipients(spec: ProviderSpec, count: int) -> list[Recipient]:
    columns = spec.demo_message.columns
    return [
        Recipient(
            f"138{index:08d}",
            {spec.var_name(column): f"{column[:1]}{index % 97}" for column in columns},
        )
        for index in range(count)
    ]


def _phones_of(argument: object) -> Iterator[str]:
    if isinstance(argument, Recipient):
        yield argument.phone
    elif isinstance(argument, str):
        yield argument
    elif isinstance(argument, Sequence):
        for item in argument:
            yield from _phones_of(item)


def _counting(check: Callable[..., Any], counts: Counter[str]) -> Callable[..., Any]:
    def counted(argument: object, *args: Any, **kwargs: Any) -> Any:
        counts.update(_phones_of(argument))
        return check(argument, *args, **kwargs)

    return counted


@pytest.fixture(params=[spec.name for spec in _registry.providers()])
def spec(request: pytest.FixtureRequest) -> ProviderSpec:
    return _registry.get(request.param)


@pytest.mark.asyncio
async def test_each_providers_chunk_sender_checks_each_recipient_once_per_job(
    spec: ProviderSpec, monkeypatch: pytest.MonkeyPatch
) -> None:
    counts: Counter[str] = Counter()
    for module_name, name in CHECKS[spec.name]:
        module = importlib.import_module(module_name)
        monkeypatch.setattr(module, name, _counting(getattr(module, name), counts))
    given = _recipients(spec, 30)
    given[3] = Recipient(f"+86 {given[3].phone}", given[3].vars)  # a form to normalize
    normalize_mainland_mobile(given[0].phone)  # the numbers' prefix is known from here on
    async with serve() as sandbox, sandbox.client(spec.name, max_connections=2) as client:
        sender = spec.chunk_sender(client, spec.demo_message)
        # A sender's promise (valid_as_given_with_vars) lets the batch sender check the
        # recipients it covers itself, without calling validate (test_screen_shortcut.py).
        promised = getattr(sender, "valid_as_given_with_vars", None)
        covered = {
            recipient.phone
            for recipient in given
            if promised is not None
            and is_known_mobile(recipient.phone)
            and recipient.vars.keys() >= promised
        }
        report = await BatchSender(sender, concurrency=2, chunk_size=7).send(given)
    assert report.sent == len(given)
    assert counts == Counter(
        recipient.phone for recipient in given if recipient.phone not in covered
    )
    if spec.name == "submail":
        assert len(covered) == len(given) - 1  # all but the one given with +86


@pytest.mark.asyncio
async def test_send_chunk_checks_recipients_it_did_not_validate(spec: ProviderSpec) -> None:
    good = _recipients(spec, 2)
    given = [good[0], Recipient("12345"), good[1]]  # a bad number (and no vars: a bad row)
    async with serve() as sandbox, sandbox.client(spec.name) as client:
        sender = spec.chunk_sender(client, spec.demo_message)
        other = spec.chunk_sender(client, spec.demo_message)
        for chunk in (given, CheckedRecipients(given, checked_by=other)):
            with pytest.raises(InvalidInputError) as info:
                await sender.send_chunk(chunk)
            assert info.value.position == 1
            assert str(info.value.field).startswith("recipients[1]")
        assert sandbox.ledger.entries(provider=spec.name) == []


@pytest.mark.asyncio
async def test_a_chunk_too_large_is_refused_even_when_checked(spec: ProviderSpec) -> None:
    async with serve() as sandbox, sandbox.client(spec.name) as client:
        sender = spec.chunk_sender(client, spec.demo_message)
        given = _recipients(spec, sender.max_chunk_size + 1)
        checked = CheckedRecipients(
            [sender.validate(recipient, position=i) for i, recipient in enumerate(given)],
            checked_by=sender,
        )
        with pytest.raises(InvalidInputError):
            await sender.send_chunk(checked)
        assert sandbox.ledger.entries(provider=spec.name) == []


@pytest.mark.asyncio
async def test_a_number_given_twice_meets_the_same_checks_either_way(spec: ProviderSpec) -> None:
    async with serve() as sandbox, sandbox.client(spec.name) as client:
        sender = spec.chunk_sender(client, spec.demo_message)
        first, second = (
            sender.validate(recipient, position=i)
            for i, recipient in enumerate(_recipients(spec, 2))
        )
        given = [first, second, first]
        answers = []
        for chunk in (given, CheckedRecipients(given, checked_by=sender)):
            try:
                outcomes = await sender.send_chunk(chunk)
            except InvalidInputError as error:
                answers.append(("refused", str(error), error.field, error.position))
            else:
                answers.append(("sent", [o.status for o in outcomes], [o.phone for o in outcomes]))
    assert answers[0] == answers[1]
    if spec.name in ("sendcloud", "paasw", "submail"):  # each refuses a number twice
        assert answers[0][0] == "refused"
