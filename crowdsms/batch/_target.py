"""Where a job sends: the provider, its base URL and the account, recorded with the job.

A journal's ``done`` chunks are replayed, never sent again, when the job resumes. Resumed
against another provider, another base URL or another account (a dress rehearsal against
the sandbox resumed for real, or the reverse), the recipients of those chunks would be
reported ``sent`` while nothing sent them there. So the journal records the job's *target*
and a resume with a different one is refused (but while nothing the job sent may have
reached its provider, every recipient so far failed or skipped as under a mistyped account,
another account or base URL is accepted).

A target is a small mapping of non-secret texts: ``provider``, ``base_url`` (scheme, host,
port and path only: never a user name, password or query) and ``account`` (the identity a
client signs with: an app id, an SMS user or an access id; never a key or secret, nor
anything derived from one). Each built-in chunk
sender has a ``target`` property; another chunk sender may have one (read with
``getattr``). A key one side lacks (a journal of an earlier version, a chunk sender that
does not tell) is unknown, and accepted.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

import httpx

from crowdsms.errors import InvalidInputError
from crowdsms.outcomes import OutcomeStatus

__all__ = [
    "MAY_HAVE_REACHED",
    "UNSENT_MAY_CHANGE",
    "Target",
    "check_target",
    "describe_target",
    "safe_base_url",
    "target_differences",
    "target_of",
]

Target = Mapping[str, str]
"""Where a job sends: ``{"provider": ..., "base_url": ..., "account": ...}``."""

MAY_HAVE_REACHED = frozenset({OutcomeStatus.SENT, OutcomeStatus.UNKNOWN})
"""The outcomes of a recipient whose message may have reached the provider."""

UNSENT_MAY_CHANGE = frozenset({"account", "base_url"})
"""What a job (or campaign) that sent nothing may change: a mistyped account, a wrong host;
never its provider, nor between the sandbox and a real provider (a rehearsal)."""

_MAX_LENGTH = 200


def safe_base_url(base_url: str) -> str | None:
    """``base_url`` with only its scheme, host, port and path; ``None`` if it is no URL."""
    try:
        url = httpx.URL(base_url)
    except (httpx.InvalidURL, TypeError):
        return None
    if not url.scheme or not url.host:
        return None
    clean = url.copy_with(username=None, password=None, query=None, fragment=None)
    return str(clean).rstrip("/")


def check_target(target: object, *, field: str = "target") -> dict[str, str]:
    """``target`` as a plain dict of texts, or :class:`InvalidInputError`."""
    if not isinstance(target, Mapping) or not all(
        isinstance(key, str) and isinstance(value, str) for key, value in target.items()
    ):
        raise InvalidInputError(
            "target must be a mapping of texts to texts (where the job sends)",
            field=field,
            received=type(target).__name__,
            action='Pass e.g. {"provider": "my-gateway", "account": "12345"}, or None',
        )
    checked = dict(target)
    if "base_url" in checked:
        # Only the URL's scheme, host, port and path: never credentials or a query. A text
        # that is no URL (``"embedded sandbox"``) is kept unless it could hold either.
        given = checked["base_url"]
        url = safe_base_url(given)
        if url is not None:
            checked["base_url"] = url
        elif any(char in given for char in "@?#:"):
            del checked["base_url"]
    return {key: _bounded(value) for key, value in checked.items()}


def _bounded(value: str) -> str:
    """``value``, or, if longer than 200 characters, its start and a hash of the whole: two
    long values that differ only at their ends (a failover's last route) still differ."""
    if len(value) <= _MAX_LENGTH:
        return value
    suffix = f"... sha256:{hashlib.sha256(value.encode()).hexdigest()[:16]}"
    return value[: _MAX_LENGTH - len(suffix)] + suffix


def target_of(chunk_sender: object) -> dict[str, str] | None:
    """The chunk sender's ``target``, if it tells one (a malformed one counts as none)."""
    target = getattr(chunk_sender, "target", None)
    if target is None:
        return None
    try:
        return check_target(target)
    except InvalidInputError:
        return None


def target_differences(
    recorded: Mapping[str, object] | None, current: Mapping[str, object] | None
) -> list[tuple[str, object, object]]:
    """``(key, recorded, current)`` for each key both know and that differs.

    A key only one side has is unknown on the other, and accepted.
    """
    if recorded is None or current is None:
        return []
    return [
        (key, recorded[key], current[key])
        for key in sorted(recorded.keys() & current.keys())
        if recorded[key] != current[key]
    ]


def describe_target(differences: list[tuple[str, object, object]]) -> str:
    """``account '123' then, '456' now; ...`` for an error message."""
    return "; ".join(f"{key} {old!r} then, {new!r} now" for key, old, new in differences)
