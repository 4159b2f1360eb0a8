"""Time zones the providers use."""

from __future__ import annotations

from datetime import timedelta, timezone
from typing import Final

__all__ = ["CHINA_TIME"]

CHINA_TIME: Final = timezone(timedelta(hours=8), "Asia/Shanghai")
"""China Standard Time (UTC+08:00, no daylight saving): the providers' local time."""
