"""The sandbox's multipart reader: fields, files, and bodies it must refuse."""

from __future__ import annotations

import pytest

from crowdsms.sandbox._multipart import MalformedBody, boundary_of, parse_multipart

BOUNDARY = b"xYzZY"


def body(*parts: bytes, end: bool = True) -> bytes:
    chunks = [b"--" + BOUNDARY + b"\r\n" + part + b"\r\n" for part in parts]
    return b"".join(chunks) + (b"--" + BOUNDARY + b"--\r\n" if end else b"")


FIELD = b'Content-Disposition: form-data; name="projectid"\r\n\r\n7'
FILE = (
    b'Content-Disposition: form-data; name="inputCVS"; filename="tasks.cvs"\r\n'
    b'Content-Type: text/plain\r\n\r\nurl label\r\n"a b" \xe7\x8c\xab'
)


def test_fields_and_files() -> None:
    fields, files = parse_multipart(body(FIELD, FILE), BOUNDARY)
    assert fields == {"projectid": "7"}
    upload = files["inputCVS"]
    assert (upload.filename, upload.content_type) == ("tasks.cvs", "text/plain")
    assert upload.data == b'url label\r\n"a b" \xe7\x8c\xab'


def test_the_boundary_comes_from_the_content_type() -> None:
    assert boundary_of('multipart/form-data; boundary="xYzZY"') == BOUNDARY
    with pytest.raises(MalformedBody, match="no boundary"):
        boundary_of("multipart/form-data")


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (body(FIELD, end=False), "closing boundary"),
        (body(b"Content-Disposition: form-data\r\n\r\nx"), "no name"),
        (body(b'Content-Disposition: form-data; name="a"\r\n\r\n\xff'), "not valid UTF-8"),
        (b"--" + BOUNDARY + b"--\r\n", "no parts"),
    ],
)
def test_malformed_bodies_are_refused(data: bytes, problem: str) -> None:
    with pytest.raises(MalformedBody, match=problem):
        parse_multipart(data, BOUNDARY)
