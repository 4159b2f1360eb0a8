"""Reading pushed bodies: content types, header shapes, multipart, charsets, sniffing."""

from __future__ import annotations

import pytest

from crowdsms.providers.submail import SubmailDelivered, SubmailWebhook
from crowdsms.webhooks import WebhookFormatError

from .pushes import SUBMAIL_KEY, as_json, clock, form, submail_fields


def receiver() -> SubmailWebhook:
    return SubmailWebhook(key=SUBMAIL_KEY, clock=clock)


FIELDS = submail_fields("delivered", send_id="s1", address="13800138000", content="你好 & 再见")


@pytest.mark.parametrize(
    "headers",
    [
        {"Content-Type": "application/x-www-form-urlencoded"},  # a mapping, any case
        [(b"content-type", b"application/x-www-form-urlencoded; charset=UTF-8")],  # ASGI
        [("Content-Type", "application/x-www-form-urlencoded")],  # WSGI-style pairs
        {},  # no content type: the body is sniffed
        {"content-type": "text/plain"},  # a wrong content type: sniffed too
    ],
)
def test_form_bodies_with_any_header_shape(headers):
    [event] = receiver().parse(headers, form(FIELDS))
    assert isinstance(event, SubmailDelivered)
    assert event.raw["content"] == "你好 & 再见"


@pytest.mark.parametrize(
    "headers",
    [
        {"content-type": "application/json; charset=utf-8"},
        {"content-type": "application/vnd.submail+json"},
        {},
        {"content-type": "text/plain"},
    ],
)
def test_json_bodies_are_recognised(headers):
    [event] = receiver().parse(headers, as_json(FIELDS))
    assert event.message_id == "s1"


def test_a_str_body_is_accepted():
    [event] = receiver().parse({}, as_json(FIELDS).decode())
    assert event.message_id == "s1"


def test_a_bytearray_or_memoryview_body_is_accepted():
    body = form(FIELDS)
    assert receiver().parse({}, bytearray(body))[0].message_id == "s1"
    assert SubmailWebhook(key=SUBMAIL_KEY, clock=clock).parse({}, memoryview(body))


def test_multipart_form_bodies_are_read():
    boundary = "----crowdsms-test"
    parts = []
    for name, value in FIELDS.items():
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
        )
    body = ("".join(parts) + f"--{boundary}--\r\n").encode()
    headers = {"content-type": f"multipart/form-data; boundary={boundary}"}
    [event] = receiver().parse(headers, body)
    assert (event.message_id, event.raw["content"]) == ("s1", "你好 & 再见")


def test_an_empty_multipart_body_is_malformed():
    headers = {"content-type": "multipart/form-data; boundary=x"}
    with pytest.raises(WebhookFormatError, match="no form fields"):
        receiver().parse(headers, b"--x--\r\n")


def test_a_form_body_that_is_not_utf8_is_malformed():
    headers = {"content-type": "application/x-www-form-urlencoded"}
    with pytest.raises(WebhookFormatError, match="not form fields in utf-8"):
        receiver().parse(headers, form(FIELDS) + b"&x=%FF")


def test_an_unknown_charset_is_malformed():
    headers = {"content-type": "application/x-www-form-urlencoded; charset=klingon"}
    with pytest.raises(WebhookFormatError):
        receiver().parse(headers, form(FIELDS))


def test_repeated_form_fields_become_lists_in_raw():
    [event] = receiver().parse({}, form(FIELDS) + b"&extra=1&extra=2")
    assert event.raw["extra"] == ["1", "2"]


def test_a_json_error_shows_an_excerpt_of_the_body():
    with pytest.raises(WebhookFormatError) as caught:
        receiver().parse({"content-type": "application/json"}, b"<html>502 Bad Gateway</html>")
    assert "502 Bad Gateway" in str(caught.value)


def test_the_json_content_type_is_trusted_even_with_a_byte_order_mark():
    body = b"\xef\xbb\xbf" + as_json(FIELDS)
    [event] = receiver().parse({"content-type": "application/json"}, body)
    assert event.message_id == "s1"


def test_a_json_labelled_body_that_is_not_an_object_says_so():
    with pytest.raises(WebhookFormatError, match="expected a JSON object"):
        receiver().parse({"content-type": "application/json"}, b'"events=delivered"')
