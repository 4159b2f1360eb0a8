"""The signature rule: the signing document's worked example and vectors written out by hand."""

from __future__ import annotations

import hashlib
import random
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crowdsms._secret import Secret
from crowdsms.providers.sendcloud import compute_signature, encode_json, string_to_sign

DOC_KEY = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
DOC_PARAMS = {"phone": "18888888888", "smsUser": "testuser", "templateId": "1", "vars": "{}"}


def md5(text: str) -> str:
    return hashlib.md5(text.encode("utf-8")).hexdigest()


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def test_documented_example_md5() -> None:
    assert (
        compute_signature(params=DOC_PARAMS, sms_key=DOC_KEY) == "31eda13789be63afca40a32e37880d6d"
    )
    assert (
        compute_signature(params=DOC_PARAMS, sms_key=DOC_KEY, sign_type="md5")
        == "31eda13789be63afca40a32e37880d6d"
    )


def test_documented_example_sha256() -> None:
    assert (
        compute_signature(params=DOC_PARAMS, sms_key=DOC_KEY, sign_type="sha256")
        == "473959199cbb4bcac74310296ba880b1394ff73fd0953f3661c5d5eb999d43d3"
    )


def test_documented_example_string() -> None:
    reordered = dict(reversed(list(DOC_PARAMS.items())))
    assert string_to_sign(reordered) == "phone=18888888888&smsUser=testuser&templateId=1&vars={}"


# (params, the string S written out by hand)
VECTORS = [
    pytest.param(
        {
            "templateId": "42",
            "smsUser": "测试用户",
            "phone": "13800138000",
            "vars": '{"%name%":"张 三","%code%":"1 2 3"}',
        },
        'phone=13800138000&smsUser=测试用户&templateId=42&vars={"%name%":"张 三","%code%":"1 2 3"}',
        id="chinese-and-spaces",
    ),
    pytest.param(
        {
            "vars": '{"q":"a&b=c+d","r":"100%"}',
            "phone": "13800138000,13900139000",
            "timestamp": "1700000000000",
            "smsUser": "u",
            "templateId": "7",
        },
        "phone=13800138000,13900139000&smsUser=u&templateId=7&timestamp=1700000000000"
        '&vars={"q":"a&b=c+d","r":"100%"}',
        id="ampersand-equals-plus",
    ),
    pytest.param(
        {"vars": '{"mood":"😀🎉 好"}', "smsUser": "u", "templateId": "9", "phone": "13800138000"},
        'phone=13800138000&smsUser=u&templateId=9&vars={"mood":"😀🎉 好"}',
        id="emoji",
    ),
    pytest.param(
        {
            "tos": '[{"phone":"13800138000","vars":{"%a%":"x&y=z"}},'
            '{"phone":"13900139000","vars":{}}]',
            "smsUser": "u",
            "templateId": "3",
            "sendRequestId": "order-42",
            "timestamp": "1700000000000",
        },
        "sendRequestId=order-42&smsUser=u&templateId=3&timestamp=1700000000000"
        '&tos=[{"phone":"13800138000","vars":{"%a%":"x&y=z"}},{"phone":"13900139000","vars":{}}]',
        id="nested-json-tos",
    ),
]


@pytest.mark.parametrize(("params", "text"), VECTORS)
def test_own_vectors_md5(params: dict[str, str], text: str) -> None:
    key = "my-key-&-秘密"
    assert string_to_sign(params) == text
    assert compute_signature(params=params, sms_key=key) == md5(f"{key}&{text}&{key}")


@pytest.mark.parametrize(("params", "text"), VECTORS)
def test_own_vectors_sha256(params: dict[str, str], text: str) -> None:
    key = "another key"
    assert compute_signature(params=params, sms_key=key, sign_type="sha256") == sha256(
        f"{key}&{text}&{key}"
    )


def test_signature_parameter_is_not_signed() -> None:
    with_signature = {**DOC_PARAMS, "signature": "stale-value"}
    assert (
        compute_signature(params=with_signature, sms_key=DOC_KEY)
        == "31eda13789be63afca40a32e37880d6d"
    )


def test_secret_key_signs_like_its_value() -> None:
    assert compute_signature(params=DOC_PARAMS, sms_key=Secret(DOC_KEY)) == compute_signature(
        params=DOC_PARAMS, sms_key=DOC_KEY
    )


def test_unknown_sign_type_is_refused() -> None:
    sign_type: Any = "sha1"
    with pytest.raises(ValueError, match="sign_type"):
        compute_signature(params=DOC_PARAMS, sms_key=DOC_KEY, sign_type=sign_type)


def test_arguments_are_keyword_only() -> None:
    arguments: Any = (DOC_PARAMS,)
    with pytest.raises(TypeError):
        compute_signature(*arguments, sms_key=DOC_KEY)


def test_encode_json_is_compact_and_keeps_text() -> None:
    value = {"%name%": "张三", "nested": {"list": [1, "二"], "emoji": "😀"}, "sym": "a&b=c+d"}
    assert (
        encode_json(value)
        == '{"%name%":"张三","nested":{"list":[1,"二"],"emoji":"😀"},"sym":"a&b=c+d"}'
    )


def test_nested_json_vars_are_signed_as_serialized() -> None:
    vars_text = encode_json({"outer": {"inner": "值 & =", "n": [1, 2]}})
    params = {"smsUser": "u", "templateId": "5", "phone": "13800138000", "vars": vars_text}
    text = 'phone=13800138000&smsUser=u&templateId=5&vars={"outer":{"inner":"值 & =","n":[1,2]}}'
    assert compute_signature(params=params, sms_key="k") == md5(f"k&{text}&k")


names = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=1)


@given(st.dictionaries(names, st.text(), min_size=1, max_size=8), st.randoms())
def test_order_of_parameters_does_not_matter(params: dict[str, str], rnd: random.Random) -> None:
    items = list(params.items())
    rnd.shuffle(items)
    assert compute_signature(params=dict(items), sms_key="k") == compute_signature(
        params=params, sms_key="k"
    )
