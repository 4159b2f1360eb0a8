"""The fast paths of screening give exactly what the full paths give, value or error.

``normalize_recipient_phone`` returns a wire-form number with a known prefix at once, and
the providers' ``check_recipient`` use it; the duplicate check appends a number that sorts
after its bucket without a search. Generated inputs go through both paths.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from hypothesis import example, given
from hypothesis import strategies as st

from crowdsms import phones as _phones
from crowdsms.batch._screen import SeenPhones
from crowdsms.errors import InvalidInputError
from crowdsms.outcomes import Recipient
from crowdsms.phones import normalize_mainland_mobile, normalize_recipient_phone
from crowdsms.providers.sendcloud import _validation as _sendcloud_validation
from crowdsms.providers.submail import _validation as _submail_validation

WIRE = st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True)
NUMBERS = st.one_of(
    WIRE,
    st.from_regex(r"1[0-9]{10}", fullmatch=True),
    st.from_regex(r"[0-9]{9,13}", fullmatch=True),
    st.text(alphabet="0123456789１３８+- ()aO;", max_size=18),
    WIRE.map(lambda number: f"+86 {number[:3]} {number[3:7]} {number[7:]}"),
    WIRE.map(lambda number: number[:-1] + "８"),  # a full-width digit
    st.integers(min_value=0, max_value=10**12),
    st.none(),
)
POSITIONS = st.integers(min_value=0, max_value=10**7)


@contextmanager
def no_known_prefixes() -> Iterator[None]:
    """The library's path for every number: no prefix known (and none learnt)."""
    saved = _phones._accepted_prefixes
    _phones._accepted_prefixes = set()
    try:
        yield
    finally:
        _phones._accepted_prefixes = saved


def _full_recipient_phone(raw: object, position: int) -> str:
    return normalize_mainland_mobile(raw, field=f"recipients[{position}].phone", position=position)


@contextmanager
def full_paths() -> Iterator[None]:
    """The providers' checks without a fast path: every number through the library, every
    variable through ``check_vars``."""
    replaced = [
        (_submail_validation, "normalize_recipient_phone", _full_recipient_phone),
        (_sendcloud_validation, "normalize_recipient_phone", _full_recipient_phone),
        (_sendcloud_validation, "_plain_vars", lambda values, max_length: False),
    ]
    saved = [(module, name, getattr(module, name)) for module, name, _ in replaced]
    for module, name, value in replaced:
        setattr(module, name, value)
    try:
        with no_known_prefixes():
            yield
    finally:
        for module, name, value in saved:
            setattr(module, name, value)


def outcome(call: Callable[[], object]) -> object:
    """The value, or what the error says (text, field, position)."""
    try:
        return call()
    except InvalidInputError as error:
        return ("error", str(error), error.field, error.position)


def learn_prefix(raw: object) -> None:
    """Teach the prefix of ``raw`` (if it is a valid one), so the fast path may take it."""
    if isinstance(raw, str) and len(raw) >= 5 and raw[:5].isascii() and raw[:5].isdigit():
        outcome(lambda: normalize_mainland_mobile(raw[:5] + "000000"))


@given(raw=NUMBERS, position=POSITIONS)
def test_a_recipients_number_is_judged_as_the_full_path_judges_it(
    raw: object, position: int
) -> None:
    with no_known_prefixes():
        full = outcome(
            lambda: normalize_mainland_mobile(
                raw, field=f"recipients[{position}].phone", position=position
            )
        )
    learn_prefix(raw)
    assert outcome(lambda: normalize_recipient_phone(raw, position)) == full


@given(
    raw=st.one_of(WIRE, NUMBERS),
    position=POSITIONS,
    values=st.dictionaries(
        st.sampled_from(["name", "code", ""]),
        st.one_of(st.text(max_size=30), st.text(alphabet="a中😀", max_size=14)),
    ),
)
@example(raw="13800138000", position=3, values={"name": "😀" * 7, "code": "1"})  # 14 units
@example(raw="13800138000", position=3, values={"name": "😀" * 6 + "a", "code": "1"})  # 13
def test_the_providers_check_recipients_as_the_full_path_does(
    raw: object, position: int, values: dict[str, str]
) -> None:
    recipient = Recipient(raw, values)  # type: ignore[arg-type]
    checks = {
        "submail": lambda: _submail_validation.check_recipient(
            recipient, position=position, placeholders=("name", "code")
        ),
        "sendcloud": lambda: _sendcloud_validation.check_recipient(
            recipient, position=position, max_length=12
        ),
    }
    for name, check in checks.items():
        with full_paths():
            full = outcome(check)
        learn_prefix(raw)
        assert outcome(check) == full, name


@given(
    st.lists(
        st.one_of(
            st.sampled_from(["13800138000", "13800138001", "15800138000", "00000138000"]),
            WIRE,
            st.from_regex(r"[0-9]{11}", fullmatch=True),
            st.text(max_size=12),
        ),
        max_size=60,
    )
)
def test_the_duplicate_check_remembers_first_positions_as_a_dict_does(phones: list[str]) -> None:
    seen = SeenPhones()
    first: dict[str, int] = {}
    for position, phone in enumerate(phones):
        expected = first.setdefault(phone, position)
        assert seen.first_position(phone, position) == (None if expected == position else expected)
    assert len(seen) == len(first)
