"""CrowdTask's input checks, made before any request: the client's settings and the rows.

Settings are refused with :class:`~crowdsms.errors.ConfigurationError` when the client is
created; rows, project ids and chunks with :class:`~crowdsms.errors.InvalidInputError`
naming the argument (``rows[3]``, ``recipients[2].vars['label']``...). The CVS format's own
rules (which names and values a file can carry) are :func:`validate_columns` and
:func:`validate_row` in the CVS module; the checks here call them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Final

from crowdsms._secret import Secret, require_secret
from crowdsms.errors import ConfigurationError, InvalidInputError
from crowdsms.outcomes import Recipient
from crowdsms.providers.crowdtask._cvs import validate_row
from crowdsms.providers.crowdtask._signing import (
    AUTH_LOCATIONS,
    LOCALTIME_UNITS,
    AuthLocation,
    LocalTimeUnit,
)

__all__ = [
    "check_access_id",
    "check_access_secret_key",
    "check_auth_location",
    "check_batch_path",
    "check_chunk",
    "check_localtime_unit",
    "check_max_rows_per_batch",
    "check_project_id",
    "check_rows",
    "check_task_row",
]

# A path of RFC 3986 characters, without percent-escapes, query or fragment, so that the path
# signed is byte for byte the path sent.
_PATH: Final = re.compile(r"/[A-Za-z0-9._~!$&'()*+,;=:@/-]*")

_FIND_THE_KEY: Final = "Pass the accesssecretkey shown in CrowdTask's console"


# --- the client's settings --------------------------------------------------------------


def check_access_id(access_id: object) -> str:
    """``access_id`` if it is a non-empty printable string without surrounding spaces."""
    if (
        not isinstance(access_id, str)
        or not access_id
        or access_id != access_id.strip()
        or not access_id.isprintable()
    ):
        raise ConfigurationError(
            "access_id must be a non-empty string without surrounding spaces or control characters",
            received=repr(access_id)[:40],
            action="Pass the accessid shown in CrowdTask's console",
        )
    return access_id


def check_access_secret_key(access_secret_key: object) -> Secret:
    """``access_secret_key`` (a str or a :class:`~crowdsms.Secret`) as a non-empty Secret.

    The refused value is never echoed in the error.
    """
    return require_secret(access_secret_key, name="access_secret_key", action=_FIND_THE_KEY)


def check_localtime_unit(localtime_unit: LocalTimeUnit) -> LocalTimeUnit:
    """``localtime_unit`` if it is one of :data:`LOCALTIME_UNITS`."""
    if localtime_unit not in LOCALTIME_UNITS:
        raise ConfigurationError(
            "localtime_unit is not one of the supported units",
            received=repr(localtime_unit)[:40],
            action="Pass 'unix_ms' (the default), 'unix_s' or 'ntp_s'",
        )
    return localtime_unit


def check_auth_location(auth_location: AuthLocation) -> AuthLocation:
    """``auth_location`` if it is one of :data:`AUTH_LOCATIONS`."""
    if auth_location not in AUTH_LOCATIONS:
        raise ConfigurationError(
            "auth_location is not one of the supported places",
            received=repr(auth_location)[:40],
            action="Pass 'fields' (the default) or 'headers'",
        )
    return auth_location


def check_batch_path(batch_path: object) -> str:
    """``batch_path`` if it is an absolute URL path that is sent exactly as it is signed."""
    if not isinstance(batch_path, str) or _PATH.fullmatch(batch_path) is None:
        raise ConfigurationError(
            "batch_path must be an absolute URL path without query or percent-escapes",
            received=repr(batch_path)[:80],
            action="Pass '/task/batch' (the default) or '/api/task/batch'",
        )
    return batch_path


def check_max_rows_per_batch(max_rows_per_batch: object) -> int:
    """``max_rows_per_batch`` if it is a positive int (a bool is refused)."""
    if (
        isinstance(max_rows_per_batch, bool)
        or not isinstance(max_rows_per_batch, int)
        or max_rows_per_batch < 1
    ):
        raise ConfigurationError(
            "max_rows_per_batch must be a positive integer",
            received=repr(max_rows_per_batch)[:40],
            action="Pass 100 (CrowdTask's documented limit) or less",
        )
    return max_rows_per_batch


# --- what an upload is given ------------------------------------------------------------


def check_project_id(project_id: object) -> int:
    """Return ``project_id`` if it is a positive int, else raise :class:`InvalidInputError`."""
    if isinstance(project_id, bool) or not isinstance(project_id, int) or project_id < 1:
        raise InvalidInputError(
            "the project id must be a positive integer",
            field="project_id",
            received=repr(project_id)[:40],
            action="Pass the id of the CrowdTask project, e.g. project_id=1024",
        )
    return project_id


def check_rows(rows: object, *, max_rows: int) -> Sequence[Mapping[str, str]]:
    """``rows`` if it is a non-empty list of at most ``max_rows`` mappings.

    The rows' keys and values are checked against the columns when the CVS file is written.
    """
    if isinstance(rows, (str, bytes, Mapping)) or not isinstance(rows, Sequence):
        raise InvalidInputError(
            "rows must be a list of rows, each a dict from variable name to value",
            field="rows",
            received=repr(rows)[:60],
            action="Pass rows=[{'img_url': '...'}, ...]",
        )
    if not rows:
        raise InvalidInputError(
            "there are no rows to upload",
            field="rows",
            received="an empty list",
            action="Pass at least one row",
        )
    if len(rows) > max_rows:
        raise InvalidInputError(
            f"{len(rows)} rows given, but one upload takes at most {max_rows} "
            "(CrowdTask silently drops the rows beyond its limit)",
            field="rows",
            position=max_rows,
            received=f"{len(rows)} rows",
            action=(
                f"Upload at most {max_rows} rows per call, or pass "
                "client.tasks.batch_chunks(project_id=..., columns=...) to crowdsms's "
                "batch sender, which cuts the rows into uploads for you"
            ),
        )
    for position, row in enumerate(rows):
        if not isinstance(row, Mapping):
            raise InvalidInputError(
                f"a row must be a dict from variable name to value, not {type(row).__name__}",
                field=f"rows[{position}]",
                position=position,
                received=repr(row)[:60],
                action="Pass each row as a dict, e.g. {'img_url': '...'}",
            )
    return rows


# --- what the batch sender gives the chunk sender ---------------------------------------


def check_task_row(recipient: Recipient, *, columns: Sequence[str], position: int) -> Recipient:
    """``recipient`` unchanged if its ``vars`` make a valid row for ``columns``.

    ``recipient.phone`` is the row's identifier, not a phone number: it is not checked.
    Raises :class:`InvalidInputError` naming ``recipients[<position>].vars['<column>']`` for
    a missing or extra variable, or a value the CVS format cannot carry.
    """
    validate_row(columns, recipient.vars, position=position, field=f"recipients[{position}].vars")
    return recipient


def check_chunk(
    recipients: Sequence[Recipient], *, max_chunk_size: int, idempotency_key: str | None
) -> None:
    """Refuse an idempotency key (CrowdTask has none) and a chunk of too many rows."""
    if idempotency_key is not None:
        raise InvalidInputError(
            "CrowdTask does not deduplicate uploads, so an idempotency key cannot be used",
            field="idempotency_key",
            received=repr(idempotency_key)[:60],
            action="Pass idempotency_key=None (supports_idempotency_key is False)",
        )
    if len(recipients) > max_chunk_size:
        raise InvalidInputError(
            f"{len(recipients)} rows in one chunk, but one upload takes at most {max_chunk_size}",
            field="recipients",
            position=max_chunk_size,
            received=f"{len(recipients)} rows",
            action=f"Cut the rows into chunks of at most {max_chunk_size}",
        )
