"""A small ``multipart/form-data`` parser (python-multipart is not a dependency).

Request bodies here are small (a CVS upload of at most a few hundred kilobytes), so the
whole body is split in memory.
"""

from __future__ import annotations

import re

import attrs

__all__ = ["MalformedBody", "Upload", "boundary_of", "parse_multipart"]

_PARAM = re.compile(r';\s*([\w*-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;]*))')


class MalformedBody(ValueError):
    """The request body could not be read as its content type says."""


@attrs.frozen
class Upload:
    """A file field of a multipart body."""

    filename: str | None
    content_type: str | None
    data: bytes


def header_params(value: str) -> dict[str, str]:
    """The ``; name="value"`` parameters of a header value, names lower-cased."""
    params: dict[str, str] = {}
    for match in _PARAM.finditer(value):
        quoted, bare = match.group(2), match.group(3)
        text = re.sub(r"\\(.)", r"\1", quoted) if quoted is not None else bare.strip()
        params[match.group(1).lower()] = text
    return params


def boundary_of(content_type: str) -> bytes:
    """The boundary of a ``multipart/form-data`` content type."""
    boundary = header_params(content_type).get("boundary")
    if not boundary:
        raise MalformedBody("the multipart content type has no boundary")
    return boundary.encode("latin-1")


def parse_multipart(body: bytes, boundary: bytes) -> tuple[dict[str, str], dict[str, Upload]]:
    """The text fields and the file fields of a multipart body."""
    fields: dict[str, str] = {}
    files: dict[str, Upload] = {}
    chunks = body.split(b"--" + boundary)
    if len(chunks) < 3:
        raise MalformedBody("the multipart body has no parts")
    for chunk in chunks[1:]:
        if chunk.startswith(b"--"):
            return fields, files
        part = chunk[2:] if chunk.startswith(b"\r\n") else chunk
        head, separator, data = part.partition(b"\r\n\r\n")
        if not separator:
            raise MalformedBody("a multipart part has no blank line after its headers")
        if data.endswith(b"\r\n"):
            data = data[:-2]
        headers = _headers(head)
        disposition = header_params(headers.get("content-disposition", ""))
        name = disposition.get("name")
        if name is None:
            raise MalformedBody("a multipart part has no name")
        if "filename" in disposition or "filename*" in disposition:
            files[name] = Upload(disposition.get("filename"), headers.get("content-type"), data)
        else:
            try:
                fields[name] = data.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise MalformedBody(f"the field {name!r} is not valid UTF-8") from exc
    raise MalformedBody("the multipart body does not end with its closing boundary")


def _headers(head: bytes) -> dict[str, str]:
    headers: dict[str, str] = {}
    for line in head.decode("utf-8", errors="replace").split("\r\n"):
        name, colon, value = line.partition(":")
        if colon:
            headers[name.strip().lower()] = value.strip()
    return headers
