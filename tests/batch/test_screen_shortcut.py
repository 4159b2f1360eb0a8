"""A chunk sender's ``valid_as_given_with_vars`` promise: recipients it covers skip ``validate``.

The batch sender then checks the promise's conditions itself (a known wire-form number, the
named variables present). These tests show that the promise changes only how many times
``validate`` is called, never a recipient's outcome, and that every built-in chunk sender
that makes the promise keeps it.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any, cast

import pytest

from crowdsms import phones
from crowdsms.batch import BatchOutcome, BatchSender
from crowdsms.batch._screen import Screener
from crowdsms.errors import InvalidInputError
from crowdsms.outcomes import PreSkipped, Recipient
from crowdsms.phones import is_known_mobile, normalize_mainland_mobile
from crowdsms.providers import _registry
from crowdsms.providers.submail import AsyncSubmail, SubmailChunkSender
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


@pytest.fixture
def no_prefix_known(monkeypatch: pytest.MonkeyPatch) -> None:
    """Start with no prefix accepted, so that the tests decide which ones are known."""
    monkeypatch.setattr(phones, "_accepted_prefixes", set())


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
        Recipient("10012345678", {"name": "g"}),  # 11 digits, no such prefix: invalid
        Recipient("13712340007", {"name": "h"}),  # a prefix not known yet: validated
        Recipient("13712340008", {"name": "i"}),  # known now: promised
    ]


@pytest.mark.anyio
@pytest.mark.usefixtures("no_prefix_known")
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
        "10012345678",
        "13712340007",
    ]
    assert plain.validated == len(given) - 1  # every item but the PreSkipped one
    strip = [(o.position, o.input_phone, o.status, o.outcome.code) for o in without]
    assert [(o.position, o.input_phone, o.status, o.outcome.code) for o in with_promise] == strip
    assert [o.outcome.code for o in with_promise if o.outcome.code] == [
        "duplicate",
        "duplicate",
        "invalid",
        "opted_out",
        "invalid",
    ]


@pytest.mark.asyncio
@pytest.mark.parametrize("kind", ["fake", "submail"])
@pytest.mark.usefixtures("no_prefix_known")
async def test_the_screener_with_and_without_the_promise_agrees_on_random_input(
    kind: str,
) -> None:
    """Random mixes of promised, formatted, duplicate and invalid numbers, opted out or not."""
    async with serve() as sandbox, sandbox.client("submail") as client:
        assert isinstance(client, AsyncSubmail)
        sender: Any = (
            Promising(max_chunk_size=50)
            if kind == "fake"
            else client.sms.multisend_chunks(content="【Shop】@var(name), code @var(code)")
        )
        names = sorted(sender.valid_as_given_with_vars)
        chooser = random.Random(20261203)
        prefixes = ["13800", "13912", "15555", "10012", "19999", "12345"]  # the last 3: invalid
        taken_shortcut = 0
        for _ in range(30):
            numbers = [f"{chooser.choice(prefixes)}{chooser.randrange(30):06d}" for _ in range(60)]
            given: list[object] = []
            for number in numbers:
                form = chooser.randrange(5)
                present = [name for name in names if chooser.random() < 0.8]
                variables = {name: chooser.choice(["", "x", "客户"]) for name in present}
                if form == 0:
                    formatted = f"+86 {number[:3]} {number[3:7]} {number[7:]}"
                    given.append(Recipient(formatted, variables))
                elif form == 1:
                    given.append(number)
                elif form == 2:
                    given.append(Recipient(number[:10], variables))  # too short: invalid
                else:
                    given.append(Recipient(number, variables))
            opted_out = frozenset(chooser.sample(numbers, 5))
            promised = Screener.for_chunk_sender(sender)
            taken_shortcut += sum(
                type(item) is Recipient
                and phones.is_known_mobile(item.phone)
                and item.vars.keys() >= set(names)
                for item in given
            )
            assert _screened(promised, given, opted_out) == _screened(
                Screener(sender.validate), given, opted_out
            )
        assert taken_shortcut > 300  # most wire-form recipients with every variable


def _screened(screener: Screener, given: Sequence[object], opted_out: frozenset[str]) -> list[Any]:
    screener.suppressed = opted_out
    results: list[Any] = []
    for position, item in enumerate(given):
        phone = item if isinstance(item, str) else getattr(item, "phone", "")
        result = screener.screen(item, position, phone)
        if isinstance(result, Recipient):
            results.append(("send", result.phone, dict(result.vars)))
        else:
            results.append((result.input_phone, result.outcome.code, result.outcome.message))
        results.append(str(screener.last_error))
    return results


@pytest.mark.usefixtures("no_prefix_known")
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


BLOCKED = "13800138002"


class Blocklisting:
    """A wrapper of a user's: its own validate, everything else forwarded to the sender."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def validate(self, recipient: Recipient, *, position: int) -> Recipient:
        if recipient.phone == BLOCKED:
            raise InvalidInputError("blocked", field="phone", position=position)
        return cast(Recipient, self.inner.validate(recipient, position=position))


class BlocklistingSubmail(SubmailChunkSender):
    """A subclass of SUBMAIL's chunk sender with a validate of its own."""

    def validate(self, recipient: Recipient, *, position: int) -> Recipient:
        if recipient.phone == BLOCKED:
            raise InvalidInputError("blocked", field="phone", position=position)
        return super().validate(recipient, position=position)


@pytest.mark.asyncio
async def test_a_validate_of_its_own_is_not_skipped_by_a_promise_it_did_not_make() -> None:
    """A ``__getattr__`` wrapper and a subclass of SUBMAIL's sender do not inherit its promise."""
    given = [Recipient("13800138001", {"name": "a"}), Recipient(BLOCKED, {"name": "b"})]
    async with serve() as sandbox, sandbox.client("submail") as client:
        assert isinstance(client, AsyncSubmail)
        inner = client.sms.multisend_chunks(content="【Shop】hi @var(name)")
        subclassed = BlocklistingSubmail(inner._requests, inner._content, None)
        assert subclassed.valid_as_given_with_vars is None
        for sender in (Blocklisting(inner), subclassed):
            preview = await BatchSender(sender).preview(given)
            assert (preview.valid, preview.invalid) == (1, 1), type(sender).__name__


def test_a_promise_written_as_one_string_is_refused() -> None:
    with pytest.raises(TypeError, match=r"frozenset\(\{'name'\}\), not 'name'"):
        Screener(FakeChunkSender().validate, "name")
