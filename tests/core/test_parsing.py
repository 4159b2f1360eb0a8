"""``_parsing``: answers that are not what was expected become ``ResponseParseError``."""

from __future__ import annotations

import attrs
import cattrs
import httpx
import pytest

from crowdsms._parsing import decode_json, parse_error, structure
from crowdsms._transport import ApiResponse
from crowdsms.errors import DeliveryCertainty, ResponseParseError


def _response(content: bytes, status: int = 200) -> ApiResponse:
    return ApiResponse(
        status_code=status, headers=httpx.Headers(), content=content, operation="sms.send"
    )


def _refused(content: bytes, status: int = 200) -> ResponseParseError:
    with pytest.raises(ResponseParseError) as caught:
        decode_json(_response(content, status))
    error = caught.value
    assert error.certainty is DeliveryCertainty.UNKNOWN
    assert error.operation == "sms.send"
    assert str(error).startswith("sms.send: ")
    assert "check delivery reports" in str(error)
    return error


def test_valid_json_is_decoded() -> None:
    assert decode_json(_response('{"code":"0","msg":"成功"}'.encode())) == {
        "code": "0",
        "msg": "成功",
    }


def test_json_after_a_byte_order_mark_is_decoded() -> None:
    # Some PHP back ends put a UTF-8 BOM before their JSON.
    assert decode_json(_response(b'\xef\xbb\xbf{"code": 0}')) == {"code": 0}


def test_an_html_page_is_refused_with_an_excerpt() -> None:
    page = b"<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"
    error = _refused(page, status=200)
    message = str(error)
    assert "an HTML page" in message
    assert "Received: HTTP 200, body '<html><head><title>502 Bad Gateway" in message


@pytest.mark.parametrize("content", [b"", b"   \r\n  "])
def test_an_empty_answer_is_refused(content: bytes) -> None:
    error = _refused(content)
    assert "empty" in str(error)


def test_truncated_json_is_refused_with_an_excerpt() -> None:
    error = _refused(b'{"status": "success", "send_id": "09')
    message = str(error)
    assert "not valid JSON" in message
    assert '\'{"status": "success", "send_id": "09\'' in message


def test_invalid_utf8_is_refused_with_an_excerpt() -> None:
    error = _refused(b'{"msg": "\xb3\xc9\xb9\xa6"}')  # GBK bytes, not UTF-8
    message = str(error)
    assert "not valid UTF-8" in message
    assert '{"msg": "' in message


def test_a_long_answer_is_cut_in_the_message() -> None:
    error = _refused(b"<html>" + b"x" * 5000)
    message = str(error)
    assert "x" * 250 not in message
    assert "5006 bytes in all" in message


@attrs.frozen
class _Reply:
    code: int
    message: str


def test_structure_returns_the_typed_value() -> None:
    converter = cattrs.Converter()
    reply = structure(converter, {"code": 0, "message": "ok"}, _Reply, _response(b"{}"))
    assert reply == _Reply(code=0, message="ok")


@pytest.mark.parametrize(
    "data",
    [
        pytest.param({"code": "not a number", "message": "ok"}, id="wrong-type"),
        pytest.param({"message": "ok"}, id="missing-key"),
        pytest.param(["code", 0], id="list-instead-of-object"),
        pytest.param(None, id="null"),
    ],
)
def test_structure_turns_a_wrong_shape_into_a_parse_error(data: object) -> None:
    converter = cattrs.Converter()
    body = b'{"unexpected": true}'
    with pytest.raises(ResponseParseError) as caught:
        structure(converter, data, _Reply, _response(body))
    message = str(caught.value)
    assert "does not have the expected shape" in message
    assert "'{\"unexpected\": true}'" in message
    assert caught.value.certainty is DeliveryCertainty.UNKNOWN


def test_parse_error_names_status_and_body() -> None:
    error = parse_error(_response(b"oops", status=418), "the answer is odd")
    assert str(error).startswith("sms.send: the answer is odd. Received: HTTP 418, body 'oops'.")
