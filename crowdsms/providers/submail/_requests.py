"""SUBMAIL requests: building them, and making them through the client's transport.

Every request goes to ``<api>.json`` with a JSON body and asks for a JSON answer (SUBMAIL
also accepts form bodies and answers in XML or YAML; the caller would get the same values,
so crowdsms always uses the cheapest). The endpoint groups and the batch sender's chunk
sender share these functions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

import attrs

from crowdsms._transport import ApiRequest, ApiResponse, BodyEncoding, Transport
from crowdsms._transport.encode import compact_json
from crowdsms.errors import CrowdSMSError, mask_error_chain
from crowdsms.outcomes import Recipient
from crowdsms.providers.submail._converter import decode_answer
from crowdsms.providers.submail._validation import CheckedContent

__all__ = [
    "MULTISEND_OPERATION",
    "SEND_OPERATION",
    "TIMESTAMP_OPERATION",
    "SubmailRequests",
    "multi_field",
    "multisend_request",
    "post",
    "timestamp_request",
]

SEND_OPERATION: Final = "submail.sms.send"
MULTISEND_OPERATION: Final = "submail.sms.multisend"
TIMESTAMP_OPERATION: Final = "submail.service.timestamp"

_SUFFIX: Final = ".json"
_ACCEPT: Final = {"accept": "application/json"}


@attrs.frozen(kw_only=True)
class SubmailRequests:
    """What one client's endpoint groups share: its transport and its settings."""

    transport: Transport
    max_multisend_recipients: int
    """The most recipients one ``sms/multisend`` request carries."""
    max_connections: int | None
    """The client's :attr:`~crowdsms._client.AsyncClientBase.max_connections`."""

    async def call(self, request: ApiRequest) -> tuple[Any, ApiResponse]:
        """Make ``request`` and decode its answer; the caller interprets the value.

        An error comes with the app key masked wherever it quotes a body, in itself and in
        the errors chained to it (the signer's ``mask``).
        """
        try:
            response = await self.transport.request(request)
            return decode_answer(response), response
        except CrowdSMSError as error:
            mask = getattr(self.transport.signer, "mask", None)  # SubmailSigner.mask
            if callable(mask):
                mask_error_chain(error, mask)
            raise


def post(api: str, fields: Mapping[str, str], *, operation: str) -> ApiRequest:
    """A (non-idempotent) POST to ``api`` with a JSON body; the signer signs each attempt."""
    return ApiRequest(
        method="POST",
        path=api + _SUFFIX,
        operation=operation,
        fields=fields,
        encoding=BodyEncoding.JSON,
        headers=_ACCEPT,
    )


def timestamp_request() -> ApiRequest:
    """The unsigned, idempotent ``GET /service/timestamp.json``."""
    return ApiRequest(
        method="GET",
        path="service/timestamp" + _SUFFIX,
        operation=TIMESTAMP_OPERATION,
        encoding=BodyEncoding.QUERY,
        headers=_ACCEPT,
        idempotent=True,
        authenticate=False,
    )


def multisend_request(
    content: CheckedContent, recipients: Sequence[Recipient], tag: str | None
) -> ApiRequest:
    """The ``sms/multisend`` request of ``content`` to checked ``recipients``."""
    fields = {"content": content.text, "multi": multi_field(content, recipients)}
    if tag is not None:
        fields["tag"] = tag
    return post("sms/multisend", fields, operation=MULTISEND_OPERATION)


def multi_field(content: CheckedContent, recipients: Sequence[Recipient]) -> str:
    """The ``multi`` JSON array; only the variables the content uses are sent."""
    keys = content.placeholders
    items: list[dict[str, object]] = []
    append = items.append
    for recipient in recipients:
        if keys:
            variables = recipient.vars
            # Most recipients have exactly the content's variables, in its order: send their
            # dict as it is rather than building an equal one.
            if type(variables) is not dict or tuple(variables) != keys:
                variables = {key: variables[key] for key in keys}
            append({"to": recipient.phone, "vars": variables})
        else:
            append({"to": recipient.phone})
    return compact_json(items)
