"""The values paasw endpoints return: send results, balance, delivery reports and replies."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

import attrs

__all__ = [
    "Balance",
    "DeliveryReport",
    "DeliveryStatus",
    "Reply",
    "SendResult",
    "SmsKind",
]


class SmsKind(enum.Enum):
    """The ``kind`` of a message (seed: 1 验证码, 2 普通短信, 3 营销短信).

    The gateway requires it when the account is configured for several kinds, and wants it
    left out when the account has a single kind.
    """

    VERIFICATION_CODE = "1"
    """A verification code (验证码)."""
    NOTICE = "2"
    """An ordinary notice (普通短信)."""
    MARKETING = "3"
    """A marketing message (营销短信)."""


class DeliveryStatus(enum.Enum):
    """What a delivery report's ``code`` says happened to one message.

    ``UNRECOGNIZED`` stands for a code outside the published list; the report keeps the raw
    code in :attr:`DeliveryReport.code`.
    """

    DELIVERED = "10000"
    """The handset received the message (用户接收成功)."""
    SUBMIT_FAILED = "1"
    """Submitting the message to the carrier failed (提交失败)."""
    FAILED = "4"
    """Delivery failed (失败)."""
    BANNED_WORD = "5"
    """The content contains a banned word (屏蔽词)."""
    REJECTED = "6"
    """The content was rejected on review (审核驳回)."""
    BLOCKLISTED = "7"
    """The number is on a black list, or not on a required white list (黑/白名单)."""
    RATE_LIMITED = "8"
    """Too many messages to this number (超频)."""
    UNKNOWN = "9"
    """The carrier reported an unknown state (未知)."""
    UNRECOGNIZED = "unrecognized"
    """A code crowdsms does not know."""

    @property
    def explanation(self) -> str:
        """An English explanation of the status."""
        return _EXPLANATIONS[self]

    @property
    def retryable(self) -> bool:
        """Whether sending the same message to the number again later could succeed."""
        return self in _RETRYABLE

    @classmethod
    def from_code(cls, code: str) -> DeliveryStatus:
        """The status for a raw report code; ``UNRECOGNIZED`` for codes outside the list."""
        try:
            return cls(code)
        except ValueError:
            return cls.UNRECOGNIZED


_EXPLANATIONS: Mapping[DeliveryStatus, str] = {
    DeliveryStatus.DELIVERED: "delivered to the handset",
    DeliveryStatus.SUBMIT_FAILED: "the gateway could not submit the message to the carrier",
    DeliveryStatus.FAILED: "the carrier could not deliver the message",
    DeliveryStatus.BANNED_WORD: "the content contains a word the gateway blocks",
    DeliveryStatus.REJECTED: "the content was rejected on review",
    DeliveryStatus.BLOCKLISTED: "the number is on a black list (or missing from a white list)",
    DeliveryStatus.RATE_LIMITED: "too many messages were sent to this number recently",
    DeliveryStatus.UNKNOWN: "the carrier did not say whether the message arrived",
    DeliveryStatus.UNRECOGNIZED: "a delivery code crowdsms does not know",
}

_RETRYABLE = frozenset({DeliveryStatus.SUBMIT_FAILED, DeliveryStatus.RATE_LIMITED})


@attrs.frozen(kw_only=True)
class SendResult:
    """The gateway accepted a send.

    ``biz_id`` is the batch id (``bizId``) that the delivery reports for these messages
    carry; ``phones`` the numbers sent, normalized, in order; ``provider_message`` the
    gateway's own words (usually 操作成功).
    """

    biz_id: str
    phones: tuple[str, ...]
    provider_message: str = ""


@attrs.frozen(kw_only=True)
class Balance:
    """The account's balance, as the gateway reports it (its unit is not published)."""

    balance: Decimal
    provider_message: str = ""


@attrs.frozen(kw_only=True)
class DeliveryReport:
    """One delivery report, pulled from ``/sms/deliver`` or pushed to your URL.

    ``code`` is the raw code (a string even when the gateway sent a number) and ``status``
    its meaning; unknown codes keep ``code`` and get ``DeliveryStatus.UNRECOGNIZED``. Times
    are the gateway's local time (China, UTC+8) as aware datetimes, or ``None`` when missing
    or in a format crowdsms does not know (the original is in ``raw``). ``raw`` is the item
    as received, for fields this model does not name.
    """

    phone: str
    code: str
    status: DeliveryStatus
    biz_id: str | None = None
    success: bool | None = None
    message: str | None = None
    send_time: datetime | None = None
    report_time: datetime | None = None
    sms_size: int | None = None
    raw: Mapping[str, Any] = attrs.field(factory=dict, repr=False, eq=False)

    @property
    def delivered(self) -> bool:
        """Whether the message reached the handset."""
        return self.status is DeliveryStatus.DELIVERED

    @property
    def explanation(self) -> str:
        """An English explanation of ``status``."""
        return self.status.explanation


@attrs.frozen(kw_only=True)
class Reply:
    """One reply (an SMS a recipient sent back), pulled from ``/sms/smsUp`` or pushed.

    ``sign`` is the SMS signature the reply answers (present in pushes); ``sequence_id`` is
    kept as a string so that large ids lose no digits.
    """

    phone: str
    content: str
    send_time: datetime | None = None
    sequence_id: str | None = None
    sign: str | None = None
    raw: Mapping[str, Any] = attrs.field(factory=dict, repr=False, eq=False)
