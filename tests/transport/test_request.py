"""``ApiRequest`` copies and the wire request built from one."""

from __future__ import annotations

import json

import attrs
import httpx
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from crowdsms._transport import ApiRequest, BodyEncoding, FilePart
from crowdsms._transport.encode import compact_json, to_wire_request
from crowdsms._transport.lanes import HttpcoreLane


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
    assert wire.query == "token=secret-token&id=42"
    assert str(wire.url) == "https://api.example.com/status"  # the query kept apart
    assert wire.to_httpx().url.params == httpx.QueryParams({"token": "secret-token", "id": "42"})
    assert wire.content == b""
    assert all(name.lower() not in ("host", "content-length") for name, _ in wire.headers)
    assert "secret-token" not in repr(wire)


_TEXT = st.text(max_size=12)
_PARAMS = st.dictionaries(_TEXT, _TEXT, max_size=4)


def _built_by_httpx(request: ApiRequest, url: str) -> httpx.Request:
    """The request as httpx builds it from the same parts: what each sender must send."""
    headers = {"user-agent": "ua", "accept": "application/json"}
    headers.update({name.lower(): value for name, value in request.headers.items()})
    if request.encoding is BodyEncoding.QUERY:
        return httpx.Request(
            request.method, url, params={**request.query, **request.fields}, headers=headers
        )
    if request.encoding is BodyEncoding.JSON:
        return httpx.Request(
            request.method,
            url,
            params=dict(request.query),
            headers=headers,
            json=dict(request.fields),
        )
    return httpx.Request(
        request.method, url, params=dict(request.query), headers=headers, data=dict(request.fields)
    )


@given(
    fields=_PARAMS,
    query=_PARAMS,
    encoding=st.sampled_from([BodyEncoding.QUERY, BodyEncoding.FORM, BodyEncoding.JSON]),
)
@example(fields={"q": "a b&c=d/?#+%20", "中文": "值"}, query={}, encoding=BodyEncoding.QUERY)
@example(fields={}, query={}, encoding=BodyEncoding.QUERY)  # no query string, no "?"
@example(fields={"a": "1"}, query={"a": "0", "t": "x y"}, encoding=BodyEncoding.QUERY)
def test_the_wire_request_has_the_url_and_body_httpx_would_build(
    fields: dict[str, str], query: dict[str, str], encoding: BodyEncoding
) -> None:
    request = ApiRequest(
        method="GET" if encoding is BodyEncoding.QUERY else "POST",
        path="/v1/status",
        operation="t",
        fields=fields,
        encoding=encoding,
        query=query,
    )
    wire = to_wire_request(
        request, base_url="https://api.example.com", timeout=httpx.Timeout(5.0), user_agent="ua"
    )
    expected = _built_by_httpx(request, "https://api.example.com/v1/status")
    target = wire.url.raw_path + (b"?" + wire.query.encode("ascii") if wire.query else b"")
    assert target == expected.url.raw_path  # what the lanes send
    assert wire.to_httpx().url == expected.url  # what a user's client or transport sends
    if encoding is BodyEncoding.JSON:
        assert json.loads(wire.content) == fields  # httpx's own JSON is not compact
    else:
        assert wire.content == expected.read()
    # A body says what it is (even an empty form); a query request has none.
    assert ("content-type" in dict(wire.headers)) == (encoding is not BodyEncoding.QUERY)


@pytest.mark.parametrize(
    "base_url",
    [
        "http://[::1]:8080",
        "https://api.example.com",
        "https://api.example.com:443",
        "http://127.0.0.1:80/prefix/",
        "https://Bücher.example",
        "http://h:8443",
    ],
)
def test_the_httpcore_lane_sends_the_target_and_host_httpx_would(base_url: str) -> None:
    request = ApiRequest(
        method="GET",
        path="/status",
        operation="t",
        fields={"id": "4 2"},
        encoding=BodyEncoding.QUERY,
    )
    wire = to_wire_request(request, base_url=base_url, timeout=httpx.Timeout(5.0), user_agent="ua")
    url, host = HttpcoreLane()._target(wire)
    expected = httpx.Request("GET", base_url.rstrip("/") + "/status", params={"id": "4 2"})
    assert host.decode() == expected.headers["host"]  # brackets around an IPv6 address
    assert (url.scheme, url.host, url.port) == (
        expected.url.raw_scheme,
        expected.url.raw_host,
        expected.url.port,
    )
    assert url.target == expected.url.raw_path


_JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


@given(_JSON_VALUES)
@example({"to": "13800138000", "vars": {"name": '客户\u2028"\\', "code": "0042"}})
def test_compact_json_writes_the_text_json_dumps_writes(value: object) -> None:
    assert compact_json(value) == json.dumps(value, ensure_ascii=False, separators=(",", ":"))
