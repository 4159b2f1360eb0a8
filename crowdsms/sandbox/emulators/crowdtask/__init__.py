"""The CrowdTask emulator: ``task/batch`` uploads of CVS files."""

from __future__ import annotations

from crowdsms.sandbox.emulators.crowdtask._emulator import CrowdTaskEmulator
from crowdsms.sandbox.emulators.crowdtask._settings import (
    CROWDTASK_ACCESS_ID,
    CROWDTASK_SECRET,
    CrowdTaskSettings,
)

__all__ = ["CROWDTASK_ACCESS_ID", "CROWDTASK_SECRET", "CrowdTaskEmulator", "CrowdTaskSettings"]
