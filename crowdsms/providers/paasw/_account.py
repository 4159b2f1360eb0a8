"""``client.account``: the account's balance."""

from __future__ import annotations

from crowdsms.providers.paasw._converter import parse_balance_answer
from crowdsms.providers.paasw._models import Balance
from crowdsms.providers.paasw._requests import PaaswRequests, balance_request

__all__ = ["AccountEndpoints"]


class AccountEndpoints:
    """The account: ``client.account``."""

    def __init__(self, requests: PaaswRequests) -> None:
        self._requests = requests

    def __repr__(self) -> str:
        return "<paasw AccountEndpoints>"

    async def balance(self) -> Balance:
        """The account's balance (``GET /sms/balance``), as a ``Decimal``."""
        response = await self._requests.call(balance_request())
        return parse_balance_answer(response)
