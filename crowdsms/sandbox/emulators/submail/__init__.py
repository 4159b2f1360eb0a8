"""The SUBMAIL emulator: ``sms/multisend``, ``sms/send`` and ``service/timestamp``, SUBHOOK."""

from __future__ import annotations

from crowdsms.sandbox.emulators.submail._emulator import MESSAGES, SubmailEmulator
from crowdsms.sandbox.emulators.submail._settings import (
    SUBMAIL_APPID,
    SUBMAIL_APPKEY,
    SUBMAIL_SUBHOOK_KEY,
    SubmailSettings,
)

__all__ = [
    "MESSAGES",
    "SUBMAIL_APPID",
    "SUBMAIL_APPKEY",
    "SUBMAIL_SUBHOOK_KEY",
    "SubmailEmulator",
    "SubmailSettings",
]
