"""What every paasw endpoint group shares: the transport, and masking on the way out."""

from __future__ import annotations

from crowdsms._transport import ApiRequest, ApiResponse, Transport
from crowdsms.errors import CrowdSMSError
from crowdsms.providers.paasw._signer import PaaswSigner

__all__ = ["Context"]


class Context:
    """Makes calls for the endpoint groups of one client."""

    def __init__(self, transport: Transport, signer: PaaswSigner) -> None:
        self.transport = transport
        self.signer = signer

    def __repr__(self) -> str:
        return f"<paasw Context {self.transport.base_url}>"

    async def call(self, request: ApiRequest) -> ApiResponse:
        """Make ``request``; the answer and any error come back with credentials masked."""
        try:
            response = await self.transport.request(request)
        except CrowdSMSError as error:
            self.signer.redact_error(error)
            raise
        return self.signer.redact(response)
