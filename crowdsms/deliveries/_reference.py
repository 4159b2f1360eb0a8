"""The reference a chunk's request carries, so that reports name the job and chunk.

Where a provider repeats a caller's text in every report of a request (a "tag"), crowdsms
sends ``cs1.<job>.<chunk>[.<resend>]``: a 12-character hash of the job id, the chunk's
index and, for a resend, its number, all in at most 32 ASCII characters. It is what ties a
report to a request whose answer was lost, and it carries nothing secret.
"""

from __future__ import annotations

import functools
import hashlib

import attrs

__all__ = ["ChunkReference", "chunk_reference", "job_hash", "parse_reference"]

_PREFIX = "cs1"
_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"


@functools.lru_cache(maxsize=64)  # a job asks once per chunk
def job_hash(job_id: str) -> str:
    """The 12-character hash of ``job_id`` used in references."""
    return hashlib.sha256(job_id.encode()).hexdigest()[:12]


def _base36(number: int) -> str:
    if number == 0:
        return "0"
    digits = []
    while number:
        number, digit = divmod(number, 36)
        digits.append(_ALPHABET[digit])
    return "".join(reversed(digits))


def chunk_reference(job_id: str, chunk: int, resend: int = 0) -> str:
    """The reference of chunk ``chunk`` of ``job_id`` (its ``resend``-th resend if > 0)."""
    if chunk < 0 or resend < 0:
        raise ValueError("chunk and resend must not be negative")
    text = f"{_PREFIX}.{job_hash(job_id)}.{_base36(chunk)}"
    return f"{text}.{_base36(resend)}" if resend else text


@attrs.frozen
class ChunkReference:
    """What a reference names: the job's hash, the chunk and the resend (0: first send)."""

    job: str
    chunk: int
    resend: int = 0


def parse_reference(text: str | None) -> ChunkReference | None:
    """What ``text`` names, or ``None`` if it is not a crowdsms reference."""
    if not text:
        return None
    parts = text.strip().split(".")
    if len(parts) not in (3, 4) or parts[0] != _PREFIX or len(parts[1]) != 12:
        return None
    try:
        chunk = int(parts[2], 36)
        resend = int(parts[3], 36) if len(parts) == 4 else 0
    except ValueError:
        return None
    return ChunkReference(job=parts[1], chunk=chunk, resend=resend)
