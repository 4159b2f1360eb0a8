"""The compact JSON form of a chunk's outcomes."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crowdsms.campaign import decode_outcomes, encode_outcomes
from crowdsms.errors import CrowdSMSError
from crowdsms.outcomes import Delivery, DeliveryState, OutcomeStatus, RecipientOutcome


def test_a_sent_outcome_is_four_short_fields() -> None:
    outcome = RecipientOutcome(
        phone="13812345678", status=OutcomeStatus.SENT, message_id="a1b2", fee=1.0
    )
    assert encode_outcomes([outcome]) == '[1,["13812345678","s","a1b2",1]]'
    assert decode_outcomes(encode_outcomes([outcome])) == (outcome,)


def test_a_failure_keeps_its_code_message_and_retryable_flag_in_utf8() -> None:
    outcome = RecipientOutcome(
        phone="13812345678",
        status=OutcomeStatus.FAILED,
        code="101",
        message="号码无效",
        retryable=True,
    )
    text = encode_outcomes([outcome])
    assert text == '[1,["13812345678","f",null,null,"101","号码无效",1]]'
    assert decode_outcomes(text.encode()) == (outcome,)


def test_a_reconciled_outcome_keeps_confirmed_and_its_delivery() -> None:
    outcome = RecipientOutcome(
        phone="13812345678",
        status=OutcomeStatus.SENT,
        message_id="a1b2",
        fee=1.0,
        confirmed=True,
        delivery=Delivery(state=DeliveryState.UNDELIVERED, code="UNDELIV", at=1733100000.5),
    )
    text = encode_outcomes([outcome])
    assert text == '[1,["13812345678","s","a1b2",1,null,null,0,1,["u","UNDELIV",1733100000.5]]]'
    assert decode_outcomes(text) == (outcome,)
    awaiting = RecipientOutcome(
        phone="13812345678",
        status=OutcomeStatus.SENT,
        delivery=Delivery(state=DeliveryState.AWAITING),
    )
    assert encode_outcomes([awaiting]) == '[1,["13812345678","s",null,null,null,null,0,0,["a"]]]'
    assert decode_outcomes(encode_outcomes([awaiting])) == (awaiting,)


deliveries = st.builds(
    Delivery,
    state=st.sampled_from(DeliveryState),
    code=st.none() | st.text(max_size=10),
    at=st.none() | st.floats(allow_nan=False, allow_infinity=False),
)


def test_the_provider_is_kept_and_rows_without_it_read_as_before() -> None:
    sent = RecipientOutcome(
        phone="13812345678", status=OutcomeStatus.SENT, message_id="a1", provider="backup"
    )
    assert (
        encode_outcomes([sent]) == '[1,["13812345678","s","a1",null,null,null,0,0,null,"backup"]]'
    )
    assert decode_outcomes(encode_outcomes([sent])) == (sent,)
    failed = RecipientOutcome(
        phone="138", status=OutcomeStatus.FAILED, code="1", retryable=True, provider="p"
    )
    assert encode_outcomes([failed]) == '[1,["138","f",null,null,"1",null,1,0,null,"p"]]'
    assert decode_outcomes(encode_outcomes([failed])) == (failed,)
    (old,) = decode_outcomes('[1,["138","s","a1"]]')
    assert old.provider is None


outcomes = st.builds(
    RecipientOutcome,
    phone=st.text(max_size=20),
    status=st.sampled_from(OutcomeStatus),
    message_id=st.none() | st.text(max_size=40),
    fee=st.none() | st.floats(allow_nan=False, allow_infinity=False),
    code=st.none() | st.text(max_size=10),
    message=st.none() | st.text(max_size=40),
    retryable=st.booleans(),
    confirmed=st.booleans(),
    delivery=st.none() | deliveries,
    provider=st.none() | st.text(max_size=20),
)


@given(st.lists(outcomes, max_size=60))
def test_every_outcome_comes_back_as_it_went_in(chunk: list[RecipientOutcome]) -> None:
    assert decode_outcomes(encode_outcomes(chunk)) == tuple(chunk)


@pytest.mark.parametrize(
    "text",
    [
        "not json",
        "{}",
        "[]",
        '[2,["138","s"]]',
        '[1,["138"]]',
        '[1,["138","x"]]',
        '[1,["138",["s"]]]',
        '[1,["138","s",5]]',
        '[1,["138","s",null,"1"]]',
        '[1,["138","s",null,null,null,null,2]]',
        '[1,["138","s",null,null,null,null,0,2]]',
        '[1,["138","s",null,null,null,null,0,0,"d"]]',
        '[1,["138","s",null,null,null,null,0,0,["x"]]]',
        '[1,["138","s",null,null,null,null,0,0,["d","1","2"]]]',
        '[1,["138","s",null,null,null,null,0,0,null,null,null]]',
        '[1,["138","s",null,null,null,null,0,7]]',
        '[1,["138","s",null,null,null,null,0,"p",null]]',
    ],
)
def test_anything_else_is_refused_with_what_was_stored(text: str) -> None:
    with pytest.raises(CrowdSMSError, match=r"cannot be read.*Received"):
        decode_outcomes(text)
