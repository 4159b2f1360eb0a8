"""Turn a signed :class:`ApiRequest` into the ``httpx.Request`` that goes on the wire."""

from __future__ import annotations

import functools
import json
import urllib.parse

import httpx

from crowdsms._transport.request import ApiRequest, BodyEncoding

__all__ = ["to_httpx_request"]

_FORM = "application/x-www-form-urlencoded; charset=utf-8"
_JSON = "application/json; charset=utf-8"


@functools.lru_cache(maxsize=256)
def _parsed_url(url: str) -> httpx.URL:
    """``url`` parsed once: exactly the URL ``httpx.Request(url, params={})`` would build.

    Parsing costs more than the rest of building a request; a client calls few endpoints.
    """
    return httpx.URL(url, params={})


def to_httpx_request(
    request: ApiRequest, *, base_url: str, timeout: httpx.Timeout, user_agent: str
) -> httpx.Request:
    """Build the wire request: URL, headers, and the body in the request's encoding."""
    url = base_url.rstrip("/") + "/" + request.path.lstrip("/")
    headers = {"user-agent": user_agent, "accept": "application/json", **request.headers}
    query = dict(request.query)
    extensions = {"timeout": timeout.as_dict(), "crowdsms_operation": request.operation}
    if request.encoding is BodyEncoding.QUERY:
        query.update(request.fields)
        return httpx.Request(
            request.method, url, params=query, headers=headers, extensions=extensions
        )
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
            extensions=extensions,
        )
    target: str | httpx.URL = url
    params: dict[str, str] | None = query
    if not query:  # the usual case: no query string, and a URL parsed once per endpoint
        target, params = _parsed_url(url), None
    if request.encoding is BodyEncoding.JSON:
        content = json.dumps(dict(request.fields), ensure_ascii=False, separators=(",", ":"))
        headers.setdefault("content-type", _JSON)
    else:
        content = urllib.parse.urlencode(request.fields)
        headers.setdefault("content-type", _FORM)
    return httpx.Request(
        request.method,
        target,
        params=params,
        headers=headers,
        content=content.encode("utf-8"),
        extensions=extensions,
    )
