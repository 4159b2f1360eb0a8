"""What SUBMAIL's endpoint groups share: settings, request building and answer decoding."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from crowdsms._transport import ApiRequest, ApiResponse, BodyEncoding, Transport
from crowdsms.errors import DeliveryCertainty, HTTPStatusError, ResponseParseError, excerpt
from crowdsms.providers.submail._formats import ResponseFormat, accept_header, decode_answer
from crowdsms.providers.submail._signer import SubmailSigner

__all__ = ["SubmailApi"]


@attrs.frozen
class SubmailApi:
    """The transport and the settings one SUBMAIL client's endpoints use."""

    transport: Transport
    signer: SubmailSigner
    response_format: ResponseFormat
    encoding: BodyEncoding
    max_multisend_recipients: int

    def post(self, api: str, fields: Mapping[str, str], *, operation: str) -> ApiRequest:
        """A signed (non-idempotent) POST to ``api``, with the answer-format suffix."""
        return ApiRequest(
            method="POST",
            path=f"{api}.{self.response_format}",
            operation=operation,
            fields=fields,
            encoding=self.encoding,
            headers={"accept": accept_header(self.response_format)},
        )

    async def call(self, request: ApiRequest) -> tuple[Any, ApiResponse]:
        """Make ``request`` and decode its answer; the caller interprets the value."""
        response = await self.transport.request(request)
        try:
            value = decode_answer(response, self.response_format)
        except ResponseParseError:
            if 400 <= response.status_code < 500:
                raise _status_error(response) from None
            raise
        return value, response


def _status_error(response: ApiResponse) -> HTTPStatusError:
    return HTTPStatusError(
        f"SUBMAIL refused the request with HTTP {response.status_code} and no SUBMAIL answer",
        status_code=response.status_code,
        certainty=DeliveryCertainty.NOT_SENT,
        operation=response.operation,
        received=f"HTTP {response.status_code}, body {excerpt(response.content)}",
        action=(
            "Check the client's base_url and any proxy in between; the request was not "
            "processed, so it is safe to send again once fixed"
        ),
    )
