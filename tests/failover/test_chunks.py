"""FailoverChunkSender with scripted providers: what goes on, what stays, who is named."""

from __future__ import annotations

import pytest

from crowdsms.batch import BatchOutcome, BatchSender
from crowdsms.errors import (
    ConfigurationError,
    ConnectionFailedError,
    HTTPStatusError,
    InvalidInputError,
    ProviderError,
)
from crowdsms.failover import (
    INVALID_FOR_PROVIDER,
    WRONG_OUTCOME_COUNT,
    FailoverChunkSender,
    FailoverRoute,
)
from crowdsms.outcomes import CheckedRecipients, OutcomeStatus, Recipient, outcomes_for_error

from .fakes import (
    CODES,
    Plain,
    Scripted,
    lost,
    not_sent,
    phones,
    raising,
    recipients,
    refusal,
    refusing,
    rejected,
)

pytestmark = pytest.mark.anyio


def failover(*senders: Scripted) -> FailoverChunkSender:
    names = ["first", "second", "third"]
    return FailoverChunkSender(
        [FailoverRoute(name=names[i], sender=s, codes=CODES) for i, s in enumerate(senders)]
    )


async def test_the_first_provider_sends_when_it_can_and_is_named() -> None:
    first, second = Scripted(), Scripted()
    outcomes = await failover(first, second).send_chunk(recipients(3))
    assert [o.status for o in outcomes] == [OutcomeStatus.SENT] * 3
    assert {o.provider for o in outcomes} == {"first"}
    assert second.calls == []


@pytest.mark.parametrize("error", [not_sent(), rejected()], ids=["refused", "503"])
async def test_a_request_provably_not_sent_goes_to_the_next_provider(error: Exception) -> None:
    first, second = Scripted(raising(error)), Scripted()
    outcomes = await failover(first, second).send_chunk(recipients(3))
    assert [o.phone for o in outcomes] == phones(3)
    assert [(o.status, o.provider) for o in outcomes] == [(OutcomeStatus.SENT, "second")] * 3
    assert first.phones == second.phones == phones(3)


async def test_a_request_that_may_have_been_processed_never_goes_on() -> None:
    first, second = Scripted(raising(lost())), Scripted()
    outcomes = await failover(first, second).send_chunk(recipients(3))
    assert [(o.status, o.provider) for o in outcomes] == [(OutcomeStatus.UNKNOWN, "first")] * 3
    assert second.calls == []


async def test_an_unknown_answer_of_the_second_provider_names_it() -> None:
    first, second, third = Scripted(raising(rejected())), Scripted(raising(lost())), Scripted()
    outcomes = await failover(first, second, third).send_chunk(recipients(2))
    assert [(o.status, o.provider) for o in outcomes] == [(OutcomeStatus.UNKNOWN, "second")] * 2
    assert third.calls == []


@pytest.mark.parametrize("code", ["blocked", "per_number", "repeat", "bad_vars", "not-in-table"])
async def test_a_refusal_about_the_recipient_stays_failed(code: str) -> None:
    target = phones(3)[1]
    first, second = Scripted(refusing({target: code})), Scripted()
    outcomes = await failover(first, second).send_chunk(recipients(3))
    assert [o.status for o in outcomes] == [
        OutcomeStatus.SENT,
        OutcomeStatus.FAILED,
        OutcomeStatus.SENT,
    ]
    assert (outcomes[1].code, outcomes[1].provider) == (code, "first")
    assert second.calls == []


async def test_a_refusal_about_the_providers_side_goes_on_alone() -> None:
    target = phones(3)[1]
    first, second = Scripted(refusing({target: "review"})), Scripted()
    sender = failover(first, second)
    outcomes = await sender.send_chunk(recipients(3))
    assert [(o.status, o.provider) for o in outcomes] == [
        (OutcomeStatus.SENT, "first"),
        (OutcomeStatus.SENT, "second"),
        (OutcomeStatus.SENT, "first"),
    ]
    assert second.phones == [target]
    assert not sender.circuit.is_open("first")  # a template under review is not the account


async def test_a_balance_refusal_goes_on_and_stops_the_provider_for_the_job() -> None:
    target = phones(3)[2]
    first, second = Scripted(refusing({target: "balance"})), Scripted()
    sender = failover(first, second)
    outcomes = await sender.send_chunk(recipients(3))
    assert [o.provider for o in outcomes] == ["first", "first", "second"]
    assert sender.circuit.is_open("first")
    assert sender.circuit.opened["first"].code == "balance"  # type: ignore[attr-defined]
    later = await sender.send_chunk(recipients(2, start=3))
    assert [o.provider for o in later] == ["second", "second"]
    assert len(first.calls) == 1


async def test_outcomes_made_from_a_not_sent_failure_go_on() -> None:
    # A chunk sender may answer a whole-request failure with outcomes_for_error.
    def answer(batch: object) -> list:  # type: ignore[type-arg]
        return outcomes_for_error(recipients(2), rejected())

    first, second = Scripted(answer), Scripted()
    outcomes = await failover(first, second).send_chunk(recipients(2))
    assert [(o.status, o.provider) for o in outcomes] == [(OutcomeStatus.SENT, "second")] * 2


async def test_a_job_wide_refusal_goes_on_and_opens_the_circuit() -> None:
    first, second = Scripted(raising(refusal("auth", job_wide=True))), Scripted()
    sender = failover(first, second)
    outcomes = await sender.send_chunk(recipients(2))
    assert {o.provider for o in outcomes} == {"second"}
    assert sender.circuit.is_open("first")
    await sender.send_chunk(recipients(2, start=2))
    assert len(first.calls) == 1
    assert len(second.calls) == 2
    sender.circuit.close("first")
    await sender.send_chunk(recipients(1, start=4))
    assert len(first.calls) == 2


async def test_a_refusal_of_the_request_about_its_recipients_is_raised_not_passed_on() -> None:
    error = refusal("blocked", job_wide=False)
    first, second = Scripted(raising(error)), Scripted()
    with pytest.raises(ProviderError) as caught:
        await failover(first, second).send_chunk(recipients(2))
    assert caught.value is error
    assert second.calls == []


async def test_an_error_raised_before_any_request_is_raised_not_passed_on() -> None:
    error = InvalidInputError("too long", field="reference")
    first, second = Scripted(raising(error)), Scripted()
    with pytest.raises(InvalidInputError):
        await failover(first, second).send_chunk(recipients(2))
    assert second.calls == []


async def test_when_every_provider_fails_the_last_error_is_raised() -> None:
    last = rejected()
    first, second = Scripted(raising(not_sent())), Scripted(raising(last))
    with pytest.raises(HTTPStatusError) as caught:
        await failover(first, second).send_chunk(recipients(2))
    assert caught.value is last


async def test_a_job_wide_last_error_is_not_raised_while_an_earlier_provider_may_recover() -> None:
    transient = not_sent()
    first = Scripted(raising(transient))
    second = Scripted(raising(refusal("auth", job_wide=True)))
    sender = failover(first, second)
    with pytest.raises(ConnectionFailedError) as caught:
        await sender.send_chunk(recipients(2))
    assert caught.value is transient  # the batch sender retries it later; the job goes on
    assert sender.circuit.is_open("second")
    assert not sender.circuit.is_open("first")


async def test_with_every_provider_stopped_each_chunk_raises_the_stopping_error() -> None:
    first = Scripted(raising(refusal("auth", job_wide=True, provider="a")))
    second = Scripted(raising(refusal("balance", job_wide=True, provider="b")))
    sender = failover(first, second)
    with pytest.raises(ProviderError) as caught:
        await sender.send_chunk(recipients(2))
    assert (caught.value.code, caught.value.job_wide) == ("balance", True)
    for _ in range(2):
        with pytest.raises(ProviderError) as again:
            await sender.send_chunk(recipients(2, start=2))
        assert (again.value.code, again.value.job_wide) == ("balance", True)
        assert again.value is not caught.value
    assert len(first.calls) == len(second.calls) == 1


async def test_recipients_refused_on_and_then_not_sent_by_the_next_keep_their_failure() -> None:
    target = phones(3)[0]
    first, second = Scripted(refusing({target: "balance"})), Scripted(raising(rejected()))
    outcomes = await failover(first, second).send_chunk(recipients(3))
    assert [(o.status, o.provider) for o in outcomes] == [
        (OutcomeStatus.FAILED, "second"),
        (OutcomeStatus.SENT, "first"),
        (OutcomeStatus.SENT, "first"),
    ]
    assert outcomes[0].code == "HTTPStatusError"
    assert outcomes[0].retryable


async def test_a_refusal_with_no_provider_left_stays_as_the_last_provider_gave_it() -> None:
    target = phones(2)[1]
    first = Scripted(refusing({target: "review"}))
    outcomes = await failover(first).send_chunk(recipients(2))
    assert (outcomes[1].status, outcomes[1].code, outcomes[1].provider) == (
        OutcomeStatus.FAILED,
        "review",
        "first",
    )


async def test_a_later_provider_checks_each_recipient_and_refuses_the_invalid_alone() -> None:
    bad = phones(3)[1]
    first = Scripted(raising(rejected()))
    second = Scripted(refuse_invalid=lambda r: r.phone == bad)
    third = Scripted()
    outcomes = await failover(first, second, third).send_chunk(recipients(3))
    assert [(o.status, o.provider) for o in outcomes] == [
        (OutcomeStatus.SENT, "second"),
        (OutcomeStatus.FAILED, "second"),
        (OutcomeStatus.SENT, "second"),
    ]
    assert outcomes[1].code == INVALID_FOR_PROVIDER
    assert "first did not send it" in (outcomes[1].message or "")
    assert bad not in second.phones
    assert third.calls == []


async def test_validation_is_the_first_providers() -> None:
    first = Scripted(refuse_invalid=lambda r: r.phone.endswith("1"))
    second = Scripted()
    sender = failover(first, second)
    with pytest.raises(InvalidInputError):
        sender.validate(Recipient("13900000001"), position=0)
    assert sender.validate(Recipient("+86 139 0000 0002"), position=0).phone == "13900000002"


async def test_the_batch_senders_chunks_are_checked_once_by_the_first_provider() -> None:
    first, second = Scripted(), Scripted()
    sender = failover(first, second)
    report = await BatchSender(sender).send(recipients(3))
    assert report.sent == 3
    assert first.validated == phones(3)  # the batch sender's screening, nothing more
    [chunk] = first.received
    assert isinstance(chunk, CheckedRecipients)
    assert chunk.checked_by is first


async def test_the_next_provider_validates_what_the_first_did_not_send() -> None:
    bad = phones(3)[1]
    first = Scripted(raising(rejected()))
    second = Scripted(refuse_invalid=lambda r: r.phone == bad)
    sender = failover(first, second)
    outcomes: list[BatchOutcome] = []
    await BatchSender(sender).send(recipients(3), sink=outcomes.append)
    assert second.validated == phones(3)  # its own check, though the first's had passed
    [chunk] = second.received
    assert not isinstance(chunk, CheckedRecipients)
    assert [r.phone for r in chunk] == [phones(3)[0], phones(3)[2]]
    assert [o.outcome.code for o in outcomes] == [None, INVALID_FOR_PROVIDER, None]


async def test_chunks_not_checked_by_the_failover_sender_are_checked_by_the_first() -> None:
    first = Scripted()
    sender = failover(first, Scripted())
    for given in (recipients(2), CheckedRecipients(recipients(2), checked_by=first)):
        await sender.send_chunk(given)
        assert not isinstance(first.received[-1], CheckedRecipients)


async def test_renamed_variables_are_checked_again_by_the_first_provider() -> None:
    first = Scripted()
    sender = FailoverChunkSender(
        [FailoverRoute(name="wrapped", sender=first, var_name=lambda n: f"%{n}%")]
    )
    await BatchSender(sender).send(recipients(2))
    [chunk] = first.received
    assert not isinstance(chunk, CheckedRecipients)  # not what its validate() returned
    assert chunk[0].vars == {"%code%": phones(1)[0][-4:]}


async def test_each_provider_gets_the_variables_under_its_own_names() -> None:
    first, second = Scripted(raising(rejected())), Scripted()
    sender = FailoverChunkSender(
        [
            FailoverRoute(name="plain", sender=first),
            FailoverRoute(name="wrapped", sender=second, var_name=lambda n: f"%{n}%"),
        ]
    )
    given = [Recipient("13900000001", {"code": "1234"})]
    outcomes = await sender.send_chunk(given)
    assert first.calls[0][0].vars == {"code": "1234"}
    assert second.calls[0][0].vars == {"%code%": "1234"}
    assert outcomes[0].phone == "13900000001"
    wrapped_first = FailoverChunkSender(
        [FailoverRoute(name="wrapped", sender=second, var_name=lambda n: f"%{n}%")]
    )
    assert wrapped_first.validate(given[0], position=0).vars == {"code": "1234"}


async def test_registered_names_bring_their_code_table_and_variable_names() -> None:
    route = FailoverRoute.registered("sendcloud", Scripted())
    assert route.codes
    assert route.var_name is not None
    assert route.var_name("code") == "%code%"
    label = FailoverRoute.registered("backup", Scripted())
    assert label.codes == {}
    assert label.var_name is None


async def test_a_reference_goes_only_to_providers_that_carry_one() -> None:
    first = Scripted(raising(rejected()), reference=True)
    second = Plain()
    sender = FailoverChunkSender([("first", first), ("second", second)])
    assert sender.supports_reference
    outcomes = await sender.send_chunk(recipients(2), reference="job-1-0")
    assert first.references == ["job-1-0"]
    assert second.calls == 1
    assert {o.provider for o in outcomes} == {"second"}


async def test_an_idempotency_key_is_refused_clearly() -> None:
    sender = failover(Scripted())
    assert not sender.supports_idempotency_key
    with pytest.raises(InvalidInputError, match=r"idempotency_key.*Pass None"):
        await sender.send_chunk(recipients(1), idempotency_key="k")


async def test_an_unexpected_exception_of_a_later_provider_keeps_what_the_first_sent() -> None:
    target = phones(2)[0]
    first = Scripted(refusing({target: "review"}))
    second = Scripted(raising(RuntimeError("bug")))
    outcomes = await failover(first, second).send_chunk(recipients(2))
    assert [(o.status, o.provider) for o in outcomes] == [
        (OutcomeStatus.UNKNOWN, "second"),
        (OutcomeStatus.SENT, "first"),
    ]
    assert outcomes[0].code == "RuntimeError"


async def test_a_wrong_outcome_count_makes_the_recipients_unknown() -> None:
    first = Scripted(raising(rejected()))
    second = Scripted(lambda batch: [])
    outcomes = await failover(first, second).send_chunk(recipients(2))
    assert [(o.status, o.code, o.provider) for o in outcomes] == [
        (OutcomeStatus.UNKNOWN, WRONG_OUTCOME_COUNT, "second")
    ] * 2


async def test_an_empty_chunk_sends_nothing() -> None:
    first = Scripted()
    assert await failover(first).send_chunk([]) == []
    assert first.calls == []


def test_the_limits_are_the_strictest() -> None:
    sender = failover(
        Scripted(max_chunk_size=50, max_connections=None),
        Scripted(max_chunk_size=20, max_connections=8),
        Scripted(max_chunk_size=30, max_connections=4),
    )
    assert sender.max_chunk_size == 20
    assert sender.max_connections == 4
    assert not sender.supports_reference
    assert failover(Scripted()).max_connections is None
    assert repr(sender) == "<FailoverChunkSender [first, second, third] max_chunk_size=20>"


@pytest.mark.parametrize(
    ("senders", "match"),
    [
        ([], "at least one provider"),
        ("abc", "must be a list"),
        ([("a", Scripted()), ("a", Scripted())], "repeated: a"),
        ([("a", object())], "is not a chunk sender: it has no max_chunk_size"),
        ([("", Scripted())], "non-empty string"),
        ([Scripted()], "must be a .name, chunk sender. pair"),
    ],
)
def test_bad_providers_are_refused_clearly(senders: object, match: str) -> None:
    with pytest.raises(ConfigurationError, match=match):
        FailoverChunkSender(senders)  # type: ignore[arg-type]
