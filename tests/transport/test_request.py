"""``ApiRequest`` copies and the wire request built from one."""

from __future__ import annotations

import attrs
import httpx

from crowdsms._transport import ApiRequest, BodyEncoding, FilePart
from crowdsms._transport.encode import to_wire_request


def _request() -> ApiRequest:
    # Every field away from its default, so a copy that forgot one would differ.
    return ApiRequest(
        method="PUT",
        path="/upload",
        operation="task.upload",
        fields={"a": "1"},
        encoding=BodyEncoding.JSON,
        query={"q": "2"},
        headers={"x-h": "3"},
        files={"f": FilePart("f.csv", b"x")},
        idempotent=True,
        idempotency_key="key-1",
        at_least_once=True,
        authenticate=False,
    )


def test_replace_fields_copies_every_other_attribute() -> None:
    request = _request()
    copy = request.replace_fields({"b": "2"})
    assert copy == attrs.evolve(request, fields={"b": "2"})
    names = [field.name for field in attrs.fields(ApiRequest)]
    assert all(getattr(copy, name) == getattr(request, name) for name in names if name != "fields")


def test_with_fields_adds_to_the_fields() -> None:
    assert _request().with_fields({"b": "2"}).fields == {"a": "1", "b": "2"}


def test_a_json_request_goes_on_the_wire_as_compact_utf8_json() -> None:
    request = ApiRequest(
        method="POST",
        path="/send",
        operation="sms.send",
        fields={"content": "您好", "to": "13800138000"},
        encoding=BodyEncoding.JSON,
        headers={"X-Trace": "t"},
    )
    wire = to_wire_request(
        request, base_url="https://api.example.com/v1", timeout=httpx.Timeout(5.0), user_agent="ua"
    )
    assert str(wire.url) == "https://api.example.com/v1/send"
    assert wire.content == '{"content":"您好","to":"13800138000"}'.encode()
    headers = dict(wire.headers)
    assert headers["content-type"] == "application/json; charset=utf-8"
    assert headers["x-trace"] == "t"
    assert headers["user-agent"] == "ua"
    assert "host" not in headers
    assert "content-length" not in headers  # each sender sets them
    assert wire.to_httpx().headers["content-length"] == str(len(wire.content))
    assert "13800138000" not in repr(wire)  # a repr never shows the body or the query


def test_a_query_request_keeps_its_query_and_drops_recomputed_headers() -> None:
    request = ApiRequest(
        method="GET",
        path="/status",
        operation="sms.status",
        fields={"id": "42"},
        encoding=BodyEncoding.QUERY,
        query={"token": "secret-token"},
    )
    wire = to_wire_request(
        request, base_url="https://api.example.com", timeout=httpx.Timeout(5.0), user_agent="ua"
    )
    assert wire.url.params == httpx.QueryParams({"token": "secret-token", "id": "42"})
    assert wire.content == b""
    assert all(name.lower() not in ("host", "content-length") for name, _ in wire.headers)
    assert "secret-token" not in repr(wire)
