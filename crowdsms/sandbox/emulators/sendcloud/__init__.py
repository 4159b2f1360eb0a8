"""The SendCloud SMS emulator: sends, timestamps, contact-list tasks and SMSHook pushes."""

from __future__ import annotations

from crowdsms.sandbox.emulators.sendcloud._emulator import SendCloudEmulator
from crowdsms.sandbox.emulators.sendcloud._settings import (
    SENDCLOUD_CONTACT_LISTS,
    SENDCLOUD_SMS_KEY,
    SENDCLOUD_SMS_USER,
    SENDCLOUD_TEMPLATES,
    SENDCLOUD_WEBHOOK_KEY,
    SendCloudSettings,
)

__all__ = [
    "SENDCLOUD_CONTACT_LISTS",
    "SENDCLOUD_SMS_KEY",
    "SENDCLOUD_SMS_USER",
    "SENDCLOUD_TEMPLATES",
    "SENDCLOUD_WEBHOOK_KEY",
    "SendCloudEmulator",
    "SendCloudSettings",
]
