"""Turn a signed :class:`ApiRequest` into the :class:`WireRequest` that goes on the wire."""

from __future__ import annotations

import functools
import json
import urllib.parse
from collections.abc import Mapping

import httpx

from crowdsms._transport.request import ApiRequest, BodyEncoding
from crowdsms._transport.wire import WireRequest

__all__ = ["compact_json", "to_wire_request"]

_FORM = "application/x-www-form-urlencoded; charset=utf-8"
_JSON = "application/json; charset=utf-8"
_COMPACT_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), check_circular=False)


def compact_json(value: object) -> str:
    """``json.dumps(value, ensure_ascii=False, separators=(",", ":"))``, the same text.

    For what crowdsms builds itself (request bodies, a multi-recipient field, stored
    outcomes): dicts, lists, strings and numbers that cannot hold a reference cycle, so
    the encoder is made once and skips ``dumps``'s cycle check (a fifth of the cost of a
    ``multi`` field of 50 recipients).
    """
    return _COMPACT_ENCODER.encode(value)


@functools.lru_cache(maxsize=256)
def _parsed_url(url: str) -> httpx.URL:
    """``url`` parsed once: exactly the URL ``httpx.Request(url, params={})`` would build.

    Parsing costs more than the rest of building a request; a client calls few endpoints.
    """
    return httpx.URL(url, params={})


def _headers(
    user_agent: str, extra: Mapping[str, str], content_type: str | None
) -> list[tuple[str, str]]:
    headers = {"user-agent": user_agent, "accept": "application/json"}
    for name, value in extra.items():
        headers[name.lower()] = value
    if content_type is not None:
        headers.setdefault("content-type", content_type)
    return list(headers.items())


def to_wire_request(
    request: ApiRequest,
    *,
    base_url: str,
    timeout: httpx.Timeout,
    user_agent: str,
    timeout_dict: Mapping[str, float | None] | None = None,
) -> WireRequest:
    """Build the wire request: URL, query string, headers, and the body in its encoding.

    ``timeout_dict`` is ``timeout.as_dict()``, passed by a caller that computed it once.
    """
    url = base_url.rstrip("/") + "/" + request.path.lstrip("/")
    encoding = request.encoding
    if encoding is BodyEncoding.MULTIPART:
        return WireRequest.from_httpx(
            _multipart_request(request, url, user_agent),
            timeout=timeout,
            operation=request.operation,
        )
    query = request.query
    content_type: str | None
    if encoding is BodyEncoding.QUERY:
        # The fields go in the query, after (and over) any query parameters of their own.
        query = {**query, **request.fields} if query else request.fields
        body = b""
        content_type = None
    elif encoding is BodyEncoding.JSON:
        body = compact_json(dict(request.fields)).encode("utf-8")
        content_type = _JSON
    else:
        body = urllib.parse.urlencode(request.fields).encode("utf-8")
        content_type = _FORM
    return WireRequest(
        request.method,
        _parsed_url(url),  # a client calls few endpoints: each URL is parsed once
        _headers(user_agent, request.headers, content_type),
        body,
        timeout=timeout,
        timeout_dict=timeout_dict,
        operation=request.operation,
        url_text=url,
        query=urllib.parse.urlencode(query) if query else "",
    )


def _multipart_request(request: ApiRequest, url: str, user_agent: str) -> httpx.Request:
    """A multipart request (files), built by httpx."""
    files = {
        name: (part.filename, part.content, part.content_type)
        for name, part in request.files.items()
    }
    return httpx.Request(
        request.method,
        url,
        params=dict(request.query),
        headers=dict(_headers(user_agent, request.headers, None)),
        data=dict(request.fields),
        files=files,
    )
