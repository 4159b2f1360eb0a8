"""Sample recipients for ``crowdsms demo``: valid numbers, plus a few bad ones on purpose."""

from __future__ import annotations

import csv
from pathlib import Path

__all__ = ["write_sample_csv"]

_PREFIXES = ("138", "139", "150", "186", "177", "133")
_NAMES = ("李雷", "韩梅梅", "王芳", "张伟", "Lucy", "陈静")


def write_sample_csv(path: Path, count: int) -> Path:
    """Write ``count`` recipients (columns ``phone``, ``name``, ``code``) to ``path``.

    About one in 500 rows is a duplicate of the row before and one in 1000 an invalid
    number, so the demo shows how the batch sender skips them with a reason.
    """
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["phone", "name", "code"])
        previous = ""
        for index in range(count):
            prefix = _PREFIXES[index % len(_PREFIXES)]
            phone = f"{prefix}{index:08d}"
            if index % 1000 == 999:
                phone = f"123{index:08d}"  # no such mobile prefix
            elif index % 500 == 499 and previous:
                phone = previous
            writer.writerow([phone, _NAMES[index % len(_NAMES)], f"{(index * 7919) % 1000000:06d}"])
            previous = phone
    return path
