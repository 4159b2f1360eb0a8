"""A chunk sender's ``valid_as_given_with_vars`` promise: recipients it covers skip ``validate``.

The batch sender then checks the promise's conditions itself (a known wire-form number, the
named variables present). These tests show that the promise changes only how many times
``validate`` is called, never a recipient's outcome, and that every built-in chunk sender
that makes the promise keeps it.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

import pytest

from crowdsms.batch import BatchOutcome, BatchSender
from crowdsms.batch._screen import Screener
from crowdsms.outcomes import PreSkipped, Recipient
from crowdsms.phones import is_known_mobile, normalize_mainland_mobile
from crowdsms.providers import _registry
from crowdsms.providers.submail import AsyncSubmail
from crowdsms.sandbox import serve

from .fakes import FakeChunkSender


class Promising(FakeChunkSender):
    """A fake chunk sender (strict validation) that promises recipients with ``name``."""

    valid_as_given_with_vars = frozenset({"name"})

    def __init__(self, **options: Any) -> None:
        super().__init__(strict=True, **options)
        self.validated_phones: list[str] = []

    def validate(self, recipient: Recipient, *, position: int) -> Recipient:
        self.validated_phones.append(recipient.phone)
        return super().validate(recipient, position=position)


def _mixed_input() -> list[object]:
    known = normalize_mainland_mobile("13912345678")  # its prefix is known from here on
    return [
        Recipient(known, {"name": "a"}),  # promised
        Recipient("13912340001", {"name": "b", "extra": "x"}),  # promised (more vars)
        Recipient("13912340002"),  # no name: validated
        Recipient("+86 139-1234-0003", {"name": "c"}),  # not wire form: validated
        "13912340004",  # a plain string: validated
        Recipient("13912340001", {"name": "again"}),  # a duplicate of a promised one
        Recipient("139 1234 0002", {"name": "d"}),  # a duplicate of a validated one
        Recipient("12345", {"name": "e"}),  # invalid
        PreSkipped("13912340005", "opted_out", "replied stop"),
        Recipient("13912340006", {"name": "f"}),  # promised
    ]


@pytest.mark.anyio
async def test_promised_recipients_skip_validate_and_get_the_same_outcomes() -> None:
    given = _mixed_input()
    promising = Promising(max_chunk_size=3)
    plain = FakeChunkSender(max_chunk_size=3, strict=True)
    with_promise: list[BatchOutcome] = []
    without: list[BatchOutcome] = []
    await BatchSender(promising).send(given, sink=with_promise.append)
    await BatchSender(plain).send(given, sink=without.append)

    assert promising.validated_phones == [
        "13912340002",
        "+86 139-1234-0003",
        "13912340004",
        "139 1234 0002",
        "12345",
    ]
    assert plain.validated == 9  # every item but the PreSkipped one
    strip = [(o.position, o.input_phone, o.status, o.outcome.code) for o in without]
    assert [(o.position, o.input_phone, o.status, o.outcome.code) for o in with_promise] == strip
    assert [o.outcome.code for o in with_promise if o.outcome.code] == [
        "duplicate",
        "duplicate",
        "invalid",
        "opted_out",
    ]


def test_the_screener_with_and_without_the_promise_agrees_on_random_input() -> None:
    """Random mixes of promised, formatted, duplicate and invalid numbers, opted out or not."""
    promising = Promising(max_chunk_size=50)
    plain = FakeChunkSender(max_chunk_size=50, strict=True)
    normalize_mainland_mobile("13800000000")  # a known prefix for the wire-form numbers
    chooser = random.Random(20261203)
    for _ in range(30):
        numbers = [f"1380000{chooser.randrange(40):04d}" for _ in range(60)]
        given: list[object] = []
        for number in numbers:
            form = chooser.randrange(5)
            variables = {"name": "n"} if chooser.random() < 0.7 else {"other": "o"}
            if form == 0:
                given.append(Recipient(f"+86 {number[:3]} {number[3:7]} {number[7:]}", variables))
            elif form == 1:
                given.append(number)
            elif form == 2:
                given.append(Recipient(number[:10], variables))  # too short: invalid
            else:
                given.append(Recipient(number, variables))
        opted_out = frozenset(chooser.sample(numbers, 5))
        assert _screened(Screener.for_chunk_sender(promising), given, opted_out) == _screened(
            Screener.for_chunk_sender(plain), given, opted_out
        )


def _screened(screener: Screener, given: Sequence[object], opted_out: frozenset[str]) -> list[Any]:
    screener.suppressed = opted_out
    results: list[Any] = []
    for position, item in enumerate(given):
        phone = item if isinstance(item, str) else getattr(item, "phone", "")
        result = screener.screen(item, position, phone)
        if isinstance(result, Recipient):
            results.append(("send", result.phone, "name" in result.vars))
        else:
            results.append((result.input_phone, result.outcome.code, result.outcome.message))
    return results


def test_a_subclass_of_recipient_is_always_validated() -> None:
    class Tagged(Recipient):
        pass

    promising = Promising(max_chunk_size=50)
    screener = Screener.for_chunk_sender(promising)
    normalize_mainland_mobile("13912345678")
    screener.screen(Tagged("13912345678", {"name": "a"}), 0, "13912345678")
    assert promising.validated_phones == ["13912345678"]


@pytest.mark.asyncio
async def test_every_built_in_chunk_sender_that_promises_keeps_its_promise() -> None:
    """``validate`` returns the very recipient for every case the promise covers."""
    chooser = random.Random(7)
    promising = 0
    async with serve() as sandbox:
        for spec in _registry.providers():
            async with sandbox.client(spec.name) as client:
                sender = spec.chunk_sender(client, spec.demo_message)
                names = getattr(sender, "valid_as_given_with_vars", None)
                if names is None:
                    continue
                promising += 1
                normalize_mainland_mobile("13800138000")
                for position in range(300):
                    phone = f"13800{chooser.randrange(10**6):06d}"
                    assert is_known_mobile(phone)
                    variables = {name: _any_text(chooser) for name in names}
                    for extra in range(chooser.randrange(3)):
                        variables[f"extra{extra}"] = _any_text(chooser)
                    recipient = Recipient(phone, variables)
                    assert sender.validate(recipient, position=position) is recipient
    assert promising >= 1  # SUBMAIL's multisend chunk sender promises


def _any_text(chooser: random.Random) -> str:
    alphabet = "ab 12客户@()\n\t€😀"
    return "".join(chooser.choice(alphabet) for _ in range(chooser.randrange(0, 8)))


@pytest.mark.asyncio
async def test_submail_promises_exactly_the_contents_variables() -> None:
    async with serve() as sandbox:
        client = sandbox.client("submail")
        assert isinstance(client, AsyncSubmail)
        async with client:
            sender = client.sms.multisend_chunks(content="【Shop】@var(name), code @var(code)")
            assert sender.valid_as_given_with_vars == frozenset({"name", "code"})
            plain = client.sms.multisend_chunks(content="【Shop】no variables here")
            assert plain.valid_as_given_with_vars == frozenset()
