"""Turn a signed :class:`ApiRequest` into the :class:`WireRequest` that goes on the wire."""

from __future__ import annotations

import functools
import json
import urllib.parse
from collections.abc import Mapping

import httpx

from crowdsms._transport.request import ApiRequest, BodyEncoding
from crowdsms._transport.wire import WireRequest

__all__ = ["to_wire_request"]

_FORM = "application/x-www-form-urlencoded; charset=utf-8"
_JSON = "application/json; charset=utf-8"


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
    """Build the wire request: URL, headers, and the body in the request's encoding.

    ``timeout_dict`` is ``timeout.as_dict()``, passed by a caller that computed it once.
    """
    url = base_url.rstrip("/") + "/" + request.path.lstrip("/")
    if request.encoding in (BodyEncoding.QUERY, BodyEncoding.MULTIPART) or request.query:
        return WireRequest.from_httpx(
            _httpx_request(request, url, user_agent), timeout=timeout, operation=request.operation
        )
    if request.encoding is BodyEncoding.JSON:
        body = json.dumps(dict(request.fields), ensure_ascii=False, separators=(",", ":"))
        content_type = _JSON
    else:
        body = urllib.parse.urlencode(request.fields)
        content_type = _FORM
    return WireRequest(
        request.method,
        _parsed_url(url),  # the usual case: no query string, and a URL parsed once
        _headers(user_agent, request.headers, content_type),
        body.encode("utf-8"),
        timeout=timeout,
        timeout_dict=timeout_dict,
        operation=request.operation,
        url_text=url,
    )


def _httpx_request(request: ApiRequest, url: str, user_agent: str) -> httpx.Request:
    """A request with a query string or a multipart body, built by httpx."""
    query = dict(request.query)
    headers = dict(_headers(user_agent, request.headers, None))
    if request.encoding is BodyEncoding.QUERY:
        query.update(request.fields)
        return httpx.Request(request.method, url, params=query, headers=headers)
    if request.encoding is BodyEncoding.MULTIPART:
        files = {
            name: (part.filename, part.content, part.content_type)
            for name, part in request.files.items()
        }
        return httpx.Request(
            request.method,
            url,
            params=query,
            headers=headers,
            data=dict(request.fields),
            files=files,
        )
    if request.encoding is BodyEncoding.JSON:
        body = json.dumps(dict(request.fields), ensure_ascii=False, separators=(",", ":"))
        headers.setdefault("content-type", _JSON)
    else:
        body = urllib.parse.urlencode(request.fields)
        headers.setdefault("content-type", _FORM)
    return httpx.Request(
        request.method, url, params=query, headers=headers, content=body.encode("utf-8")
    )
