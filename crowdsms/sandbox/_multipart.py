"""``multipart/form-data`` bodies, read with python-multipart (what Starlette itself uses)."""

from __future__ import annotations

import attrs
from python_multipart.multipart import MultipartParser, parse_options_header

__all__ = ["MalformedBody", "Upload", "boundary_of", "parse_multipart"]


class MalformedBody(ValueError):
    """The request body could not be read as its content type says."""


@attrs.frozen
class Upload:
    """A file field of a multipart body."""

    filename: str | None
    content_type: str | None
    data: bytes


def boundary_of(content_type: str) -> bytes:
    """The boundary of a ``multipart/form-data`` content type."""
    _, params = parse_options_header(content_type)
    boundary = params.get(b"boundary")
    if not boundary:
        raise MalformedBody("the multipart content type has no boundary")
    return boundary


class _Parts:
    """Collects the parts python-multipart reports through its callbacks."""

    def __init__(self) -> None:
        self.parts: list[tuple[dict[bytes, bytes], bytes]] = []
        self.ended = False
        self._headers: dict[bytes, bytes] = {}
        self._field = b""
        self._value = b""
        self._data = bytearray()

    def on_part_begin(self) -> None:
        self._headers = {}
        self._data = bytearray()

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._field += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end]

    def on_header_end(self) -> None:
        self._headers[self._field.strip().lower()] = self._value.strip()
        self._field = self._value = b""

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        self._data += data[start:end]

    def on_part_end(self) -> None:
        self.parts.append((self._headers, bytes(self._data)))

    def on_end(self) -> None:
        self.ended = True


def parse_multipart(body: bytes, boundary: bytes) -> tuple[dict[str, str], dict[str, Upload]]:
    """The text fields and the file fields of a multipart body."""
    collected = _Parts()
    parser = MultipartParser(
        boundary,
        {
            "on_part_begin": collected.on_part_begin,
            "on_header_field": collected.on_header_field,
            "on_header_value": collected.on_header_value,
            "on_header_end": collected.on_header_end,
            "on_part_data": collected.on_part_data,
            "on_part_end": collected.on_part_end,
            "on_end": collected.on_end,
        },
    )
    try:
        parser.write(body)
        parser.finalize()
    except Exception as exc:  # python-multipart raises its own errors for malformed bodies
        raise MalformedBody(f"the multipart body is malformed: {exc}") from exc
    if not collected.ended:
        raise MalformedBody("the multipart body does not end with its closing boundary")
    if not collected.parts:
        raise MalformedBody("the multipart body has no parts")
    fields: dict[str, str] = {}
    files: dict[str, Upload] = {}
    for headers, data in collected.parts:
        _, disposition = parse_options_header(headers.get(b"content-disposition", b""))
        name = disposition.get(b"name")
        if name is None:
            raise MalformedBody("a multipart part has no name")
        key = name.decode("utf-8", errors="replace")
        if b"filename" in disposition:
            content_type = headers.get(b"content-type")
            files[key] = Upload(
                disposition[b"filename"].decode("utf-8", errors="replace"),
                content_type.decode("latin-1") if content_type is not None else None,
                data,
            )
            continue
        try:
            fields[key] = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise MalformedBody(f"the field {key!r} is not valid UTF-8") from exc
    return fields, files
