"""``client.account``: the account's balance."""

from __future__ import annotations

from typing import Final

from crowdsms._parsing import structure
from crowdsms._transport import ApiRequest, BodyEncoding
from crowdsms.providers.paasw._context import Context
from crowdsms.providers.paasw._converter import BalanceAnswer, converter, snake_keys
from crowdsms.providers.paasw._envelope import answer_message, read_object
from crowdsms.providers.paasw._models import Balance

__all__ = ["AccountEndpoints"]

BALANCE_PATH: Final = "/sms/balance"


class AccountEndpoints:
    """The account: ``client.account``."""

    def __init__(self, context: Context) -> None:
        self._context = context

    def __repr__(self) -> str:
        return "<paasw AccountEndpoints>"

    async def balance(self) -> Balance:
        """The account's balance (``GET /sms/balance``), as a ``Decimal``."""
        request = ApiRequest(
            method="GET",
            path=BALANCE_PATH,
            operation="paasw.account.balance",
            encoding=BodyEncoding.QUERY,
            idempotent=True,
        )
        response = await self._context.call(request)
        data = read_object(response)
        answer = structure(converter, snake_keys(data), BalanceAnswer, response)
        return Balance(balance=answer.balance, provider_message=answer_message(data))
