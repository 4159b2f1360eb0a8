"""SUBMAIL signature functions: the documented example and hand-computed vectors."""

from __future__ import annotations

import hashlib
import inspect

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crowdsms.providers import submail
from crowdsms.providers.submail._provider import PROVIDER
from crowdsms.providers.submail._signing import (
    api_name,
    compute_signature,
    string_to_sign,
    unsigned_fields,
)

EXAMPLE_FIELDS = {
    "appid": "10000",
    "timestamp": "1414253462",
    "sign_type": "md5",
    "sign_version": "2",
}


def md5(text: str) -> str:
    return hashlib.md5(text.encode("utf-8")).hexdigest()


def sha1(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


def test_worked_example_string() -> None:
    assert (
        string_to_sign(EXAMPLE_FIELDS, api="sms/multisend")
        == "appid=10000&sign_type=md5&sign_version=2&timestamp=1414253462"
    )


def test_worked_example_md5() -> None:
    signature = compute_signature(
        sign_type="md5",
        app_id="10000",
        app_key="abc123",
        fields=EXAMPLE_FIELDS,
        api="sms/multisend",
    )
    assert signature == "de95295c01cf130c014ec718baa06021"


def test_worked_example_sha1() -> None:
    # SUBMAIL's signing document gives the sha1 of the same string (sign_type=md5 inside it).
    signature = compute_signature(
        sign_type="sha1",
        app_id="10000",
        app_key="abc123",
        fields=EXAMPLE_FIELDS,
        api="sms/multisend",
    )
    assert signature == "56d592d04c52fcbacf02d049d3e338c469732cc7"


def test_worked_example_hand_check() -> None:
    # The documented values are what hashlib gives for the documented string.
    text = "10000abc123appid=10000&sign_type=md5&sign_version=2&timestamp=141425346210000abc123"
    assert md5(text) == "de95295c01cf130c014ec718baa06021"
    assert sha1(text) == "56d592d04c52fcbacf02d049d3e338c469732cc7"


def test_multisend_v2_leaves_out_multi_content_tag_and_signature() -> None:
    fields = {
        **EXAMPLE_FIELDS,
        "content": "【SUBMAIL】您好，@var(name)",
        "multi": '[{"to":"13800138000","vars":{"name":"kevin"}}]',
        "tag": "campaign-7",
        "signature": "whatever",
    }
    assert string_to_sign(fields, api="sms/multisend") == (
        "appid=10000&sign_type=md5&sign_version=2&timestamp=1414253462"
    )
    signature = compute_signature(
        sign_type="md5", app_id="10000", app_key="abc123", fields=fields, api="sms/multisend"
    )
    assert signature == "de95295c01cf130c014ec718baa06021"


def test_send_v2_signs_to_but_not_content() -> None:
    fields = {**EXAMPLE_FIELDS, "to": "13800138000", "content": "【SUBMAIL】你好 & = +"}
    expected = md5(
        "10000abc123"
        "appid=10000&sign_type=md5&sign_version=2&timestamp=1414253462&to=13800138000"
        "10000abc123"
    )
    assert (
        compute_signature(
            sign_type="md5", app_id="10000", app_key="abc123", fields=fields, api="sms/send"
        )
        == expected
    )


def test_xsend_v2_leaves_out_vars_only() -> None:
    fields = {
        **EXAMPLE_FIELDS,
        "to": "13800138000",
        "project": "XDEs2",
        "vars": '{"code":"1234"}',
        "tag": "t",
    }
    expected = sha1(
        "10000abc123"
        "appid=10000&project=XDEs2&sign_type=md5&sign_version=2&timestamp=1414253462"
        "&to=13800138000"
        "10000abc123"
    )
    assert (
        compute_signature(
            sign_type="sha1", app_id="10000", app_key="abc123", fields=fields, api="sms/xsend"
        )
        == expected
    )


def test_multixsend_v2_leaves_out_multi_only() -> None:
    # SUBMAIL's one-to-many template document: with sign_version=2, multi is not signed.
    fields = {
        **EXAMPLE_FIELDS,
        "project": "XDEs2",
        "multi": '[{"to":"13800138000","vars":{"code":"1234"}}]',
        "tag": "t",
    }
    assert string_to_sign(fields, api="sms/multixsend") == (
        "appid=10000&project=XDEs2&sign_type=md5&sign_version=2&timestamp=1414253462"
    )
    expected = md5(
        "10000abc123"
        "appid=10000&project=XDEs2&sign_type=md5&sign_version=2&timestamp=1414253462"
        "10000abc123"
    )
    assert (
        compute_signature(
            sign_type="md5", app_id="10000", app_key="abc123", fields=fields, api="sms/multixsend"
        )
        == expected
    )
    # Without sign_version=2 the same multi is signed, raw.
    version_1 = {key: value for key, value in fields.items() if key != "sign_version"}
    assert string_to_sign(version_1, api="sms/multixsend") == (
        "appid=10000&multi=" + fields["multi"] + "&project=XDEs2&sign_type=md5&timestamp=1414253462"
    )


def test_without_version_2_content_is_signed_with_raw_special_characters() -> None:
    # Chinese, spaces, &, =, +, an emoji: joined raw, never URL-encoded.
    content = "【测试签名】您好 张三 & 李四, a=b+c 🎉 ok"
    fields = {
        "appid": "10000",
        "to": "13800138000",
        "content": content,
        "timestamp": "1414253462",
        "sign_type": "md5",
    }
    expected = md5(
        "10000abc123"
        "appid=10000&content=【测试签名】您好 张三 & 李四, a=b+c 🎉 ok&sign_type=md5"
        "&timestamp=1414253462&to=13800138000"
        "10000abc123"
    )
    assert (
        compute_signature(
            sign_type="md5", app_id="10000", app_key="abc123", fields=fields, api="sms/send"
        )
        == expected
    )


def test_nested_json_vars_signed_raw_on_an_api_without_exclusions() -> None:
    # An API with no version-2 exclusions signs its JSON parameter exactly as sent.
    multi = '[{"to":"13800138000","vars":{"name":"王 & 李","code":"a=1+2 😀","n":{"x":[1,2]}}}]'
    fields = {**EXAMPLE_FIELDS, "sign_type": "sha1", "multi": multi}
    expected = sha1(
        "10000abc123"
        'appid=10000&multi=[{"to":"13800138000","vars":{"name":"王 & 李","code":"a=1+2 😀",'
        '"n":{"x":[1,2]}}}]&sign_type=sha1&sign_version=2&timestamp=1414253462'
        "10000abc123"
    )
    assert (
        compute_signature(
            sign_type="sha1",
            app_id="10000",
            app_key="abc123",
            fields=fields,
            api="sms/multixsend-test",
        )
        == expected
    )


def test_chinese_app_key_bytes_are_utf8() -> None:
    fields = {"appid": "7", "sign_version": "2", "sign_type": "md5", "timestamp": "1"}
    expected = md5("7键appid=7&sign_type=md5&sign_version=2&timestamp=17键")
    assert (
        compute_signature(sign_type="md5", app_id="7", app_key="键", fields=fields, api="x")
        == expected
    )


def test_normal_is_the_key_in_clear() -> None:
    assert (
        compute_signature(
            sign_type="normal", app_id="10000", app_key="abc123", fields={}, api="sms/send"
        )
        == "abc123"
    )


def test_unknown_sign_type_is_refused() -> None:
    with pytest.raises(ValueError, match="sign_type"):
        compute_signature(
            sign_type="sha256",  # type: ignore[arg-type]
            app_id="1",
            app_key="k",
            fields={},
            api="sms/send",
        )


def test_lower_case_hex() -> None:
    signature = compute_signature(
        sign_type="sha1", app_id="1", app_key="K", fields={"a": "B"}, api="x"
    )
    assert signature == signature.lower()
    assert len(signature) == 40


@pytest.mark.parametrize(
    ("path", "api"),
    [
        ("sms/multisend.json", "sms/multisend"),
        ("/sms/send.json", "sms/send"),
        ("sms/multixsend.json", "sms/multixsend"),
        ("service/timestamp", "service/timestamp"),
    ],
)
def test_api_name(path: str, api: str) -> None:
    assert api_name(path) == api


def test_unsigned_fields() -> None:
    assert unsigned_fields("sms/multisend", sign_version="2") == {
        "signature",
        "tag",
        "multi",
        "content",
    }
    assert unsigned_fields("sms/multisend", sign_version=None) == {"signature", "tag"}
    assert unsigned_fields("sms/send", sign_version="2") == {"signature", "tag", "content"}
    assert unsigned_fields("sms/xsend", sign_version="2") == {"signature", "tag", "vars"}
    assert unsigned_fields("sms/multixsend", sign_version="2") == {"signature", "tag", "multi"}
    assert unsigned_fields("sms/multixsend", sign_version=None) == {"signature", "tag"}


@given(
    st.dictionaries(
        st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=8),
        st.text(max_size=20),
        max_size=6,
    )
)
def test_string_is_independent_of_insertion_order(fields: dict[str, str]) -> None:
    reordered = dict(reversed(list(fields.items())))
    assert string_to_sign(fields, api="x") == string_to_sign(reordered, api="x")
    expected = "&".join(
        f"{key}={fields[key]}" for key in sorted(fields) if key not in ("signature", "tag")
    )
    assert string_to_sign(fields, api="x") == expected


def test_registry_vectors_and_keyword_only_signature() -> None:
    assert PROVIDER.compute_signature is compute_signature
    assert len(PROVIDER.signature_vectors) == 2
    for vector in PROVIDER.signature_vectors:
        assert compute_signature(**vector.arguments) == vector.expected
    parameters = inspect.signature(compute_signature).parameters.values()
    assert {parameter.kind for parameter in parameters} == {inspect.Parameter.KEYWORD_ONLY}
    assert submail.compute_signature is compute_signature
