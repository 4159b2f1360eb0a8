"""The paasw gateway emulator: tokens, sends, report and reply queues, balance, pushes."""

from __future__ import annotations

from crowdsms.sandbox.emulators.paasw._emulator import CODES, PaaswEmulator
from crowdsms.sandbox.emulators.paasw._settings import PAASW_APP_ID, PAASW_SECRET, PaaswSettings

__all__ = ["CODES", "PAASW_APP_ID", "PAASW_SECRET", "PaaswEmulator", "PaaswSettings"]
