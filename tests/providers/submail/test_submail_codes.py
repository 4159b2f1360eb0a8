"""SUBMAIL's code table covers every code in SUBMAIL's published table, in the right families."""

from __future__ import annotations

import pytest

from crowdsms._codes import CodeKind
from crowdsms.errors import AuthenticationError, ClockSkewError, ProviderError, SignatureError
from crowdsms.providers.submail import CLOCK_CODES, CODES, explain
from crowdsms.providers.submail._codes import code_info, error_for_code

LISTED = [
    "101",
    *[str(code) for code in range(102, 107)],
    "107",
    "110",
    "108",
    "109",
    "111",
    "113",
    "114",
    "115",
    "151",
    "152",
    "251",
    "252",
    "305",
    "306",
    "307",
    "310",
    *[str(code) for code in range(401, 423)],
    "901",
    "903",
    "904",
    "905",
]


def test_every_listed_code_is_known() -> None:
    missing = [code for code in LISTED if code not in CODES]
    assert missing == []
    for code in LISTED:
        explanation = CODES[code].explanation
        assert explanation
        # English explanations (the brackets 【】 an SMS signature needs are quoted as is)
        assert explanation.replace("【】", "").isascii(), code


@pytest.mark.parametrize(
    ("codes", "kind"),
    [
        (["101", "102", "103", "104", "105", "106", "109", "113"], CodeKind.AUTHENTICATION),
        (["107", "108", "110", "111"], CodeKind.SIGNATURE),
        (["151", "152"], CodeKind.CLOCK),
        (["114", "251", "252"], CodeKind.RECIPIENT),
        (["115"], CodeKind.RATE_LIMIT),
        (["305", "306", "307", "310", "410"], CodeKind.INPUT),
        (["401", "403", "404", "408", "411", "420", "422"], CodeKind.CONTENT),
        (["901", "903", "904", "905"], CodeKind.BALANCE),
    ],
)
def test_kinds(codes: list[str], kind: CodeKind) -> None:
    assert {code: CODES[code].kind for code in codes} == dict.fromkeys(codes, kind)


def test_documented_meanings() -> None:
    assert "identical message" in CODES["408"].explanation
    assert "multi" in CODES["410"].explanation
    assert "template" in CODES["420"].explanation
    assert "32" in CODES["310"].explanation


def test_retryable_codes() -> None:
    retryable = {code for code, info in CODES.items() if info.retryable}
    assert retryable == {"115", "151", "152", "409", "901"}
    assert {"151", "152"} == CLOCK_CODES


def test_explain() -> None:
    assert explain("108") == CODES["108"].explanation
    assert explain(152) == CODES["152"].explanation
    assert explain("12345") == "SUBMAIL code 12345 is not in crowdsms's table of known codes"


def test_unknown_code_info() -> None:
    info = code_info("12345")
    assert info.kind is CodeKind.OTHER
    assert info.retryable is False
    assert code_info("108") is CODES["108"]


@pytest.mark.parametrize(
    ("code", "error_class"),
    [
        ("101", AuthenticationError),
        ("108", SignatureError),
        ("152", ClockSkewError),
        ("903", ProviderError),
    ],
)
def test_error_classes(code: str, error_class: type[ProviderError]) -> None:
    error = error_for_code(code=code, message="m", operation="op")
    assert type(error) is error_class
    assert (error.provider, error.code, error.provider_message) == ("submail", code, "m")
    assert error.explanation == explain(code)
