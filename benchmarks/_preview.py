"""8. Preview: peak RSS and rows per second of ``crowdsms send --dry-run`` on a large CSV.

Each run is a fresh process (``python -m benchmarks._preview --csv FILE``) that runs the
command line in-process, as ``crowdsms send FILE --content ... --dry-run`` would, and then
prints its own peak resident set size (``VmHWM``, else ``ru_maxrss``) and timings as JSON.
The SUBMAIL credentials point at a closed loopback port: a dry run that made any request
would fail, so a finished run also shows that previewing sends nothing.

The CSV has messages of 1 to 3 segments (names of 0 to 119 characters), one invalid number
every 997 rows and one repeated number every 1,009 rows, so every count of the preview is
exercised. Memory should stay flat apart from the duplicate check (about 18 bytes per
distinct number), as in a job.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from benchmarks._memory import _peak_kb, _status_kb
from benchmarks._table import Row, rate

__all__ = ["PreviewResult", "measure_preview", "write_csv"]

_ROOT = Path(__file__).resolve().parent.parent
CONTENT = "【沙箱】@var(name)您好，您的验证码是@var(code)，10分钟内有效。"


def write_csv(path: Path, rows: int) -> None:
    """``rows`` recipients: ``phone,name,code``, with a few invalid and repeated numbers."""
    with path.open("w", encoding="utf-8", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["phone", "name", "code"])
        for number in range(rows):
            if number % 997 == 996:
                phone = "12345"
            elif number % 1009 == 1008:
                phone = f"138{number - 1:08d}"
            else:
                phone = f"138{number:08d}"
            writer.writerow((phone, "名" * (number % 120), f"{number % 10000:04d}"))


def _command(path: str) -> list[str]:
    return ["send", path, "--content", CONTENT, "--dry-run", "--quiet"]


def _environment() -> None:
    for name in [key for key in os.environ if key.startswith("CROWDSMS_")]:
        del os.environ[name]
    os.environ.update(
        {
            "CROWDSMS_CONFIG": os.devnull,
            "CROWDSMS_SUBMAIL_APP_ID": "bench",
            "CROWDSMS_SUBMAIL_APP_KEY": "bench-key",
            "CROWDSMS_SUBMAIL_BASE_URL": "http://127.0.0.1:9/submail",  # closed: no request
        }
    )


def _run(path: str) -> dict[str, object]:
    _environment()
    from crowdsms.cli._main import run_cli

    baseline = _status_kb("VmRSS") or 0
    cpu, wall = time.process_time(), time.perf_counter()
    output, errors = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(output), contextlib.redirect_stderr(errors):
        status = run_cli(_command(path))
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    return {
        "status": status,
        "stdout": output.getvalue()[-4000:],
        "stderr": errors.getvalue()[-2000:],
        "baseline_kb": baseline,
        "peak_kb": _peak_kb(),
        "cpu": cpu,
        "wall": wall,
    }


@dataclass
class PreviewResult:
    """Each run's figures, by number of rows."""

    runs: dict[int, dict[str, float]]

    def rows(self) -> list[Row]:
        """Section 8 of the table."""
        rows = []
        for size, run in self.runs.items():
            rows.append(
                Row(
                    "8",
                    f"`send --dry-run`, {size:,} CSV rows: peak RSS, rows/s",
                    f"{run['peak_kb'] / 1024:.1f} MB (after imports: "
                    f"{run['baseline_kb'] / 1024:.1f} MB); {rate(size / run['wall'])} "
                    f"({run['cpu'] / size * 1e6:.1f} us CPU/row)",
                )
            )
        sizes = sorted(self.runs)
        if len(sizes) >= 2:
            small, large = self.runs[sizes[0]], self.runs[sizes[-1]]
            growth = (large["peak_kb"] - small["peak_kb"]) / 1024
            per_row = growth * 1024 * 1024 / (sizes[-1] - sizes[0])
            rows.append(
                Row(
                    "8",
                    f"dry-run peak RSS growth from {sizes[0]:,} to {sizes[-1]:,} rows",
                    f"{growth:+.1f} MB ({per_row:.0f} bytes per added row; the duplicate "
                    "check keeps about 9.5)",
                )
            )
        return rows


def measure_preview(sizes: Sequence[int], *, directory: Path) -> PreviewResult:
    """Write a CSV of each size, run a fresh dry-run process on it, read its figures."""
    runs: dict[int, dict[str, float]] = {}
    for size in sizes:
        path = directory / f"preview-{size}.csv"
        write_csv(path, size)
        command = [sys.executable, "-m", "benchmarks._preview", "--csv", str(path)]
        finished = subprocess.run(command, cwd=_ROOT, capture_output=True, text=True, check=False)
        if finished.returncode != 0:
            raise RuntimeError(f"the dry-run process failed:\n{finished.stderr[-2000:]}")
        run = json.loads(finished.stdout.strip().splitlines()[-1])
        if run["status"] != 0 or f"{size:,}" not in run["stdout"]:
            raise RuntimeError(f"the dry run of {size:,} rows did not finish: {run}")
        runs[size] = run
        path.unlink()
        print(
            f"  [8] {size:,} rows: peak {run['peak_kb'] / 1024:.1f} MB, "
            f"{size / run['wall']:,.0f} rows/s",
            file=sys.stderr,
            flush=True,
        )
    return PreviewResult(runs)


def main() -> None:
    """Run one dry run and print its figures as JSON (the last line of output)."""
    cli = argparse.ArgumentParser(description="one `crowdsms send --dry-run`, for its memory")
    cli.add_argument("--csv", required=True)
    args = cli.parse_args()
    print(json.dumps(_run(args.csv)))


if __name__ == "__main__":
    main()
