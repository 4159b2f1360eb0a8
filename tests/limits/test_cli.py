"""``crowdsms send --per-number``: the option, its errors, and the limiter it gives the job."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from crowdsms.cli._app import CliState
from crowdsms.cli._commands import cli
from crowdsms.limits import NumberLimiter, NumberLimits

CONTENT = "【测试】@var(name)，验证码 @var(code)"


@pytest.fixture
def contacts(tmp_path: Path) -> Path:
    path = tmp_path / "contacts.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["mobile", "name", "code"])
        writer.writerows([f"1380013{i:04d}", f"u{i}", f"{i:06d}"] for i in range(30))
    return path


def send(tmp_path: Path, contacts: Path, *options: str) -> tuple[int, str, list[dict[str, str]]]:
    out = tmp_path / "outcomes.jsonl"
    runner = CliRunner()
    result = runner.invoke(
        cli,
        [
            "send",
            str(contacts),
            "--phone-column",
            "mobile",
            "--content",
            CONTENT,
            "--sandbox",
            "--quiet",
            "--output",
            str(out),
            *options,
        ],
        obj=CliState(),
        env={"CROWDSMS_CONFIG": str(tmp_path / "none.toml")},
    )
    lines = out.read_text(encoding="utf-8").splitlines() if out.exists() else []
    return result.exit_code, result.output, [json.loads(line) for line in lines]


def test_the_job_gets_an_in_memory_limiter_with_the_limits(
    tmp_path: Path, contacts: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    made: list[NumberLimiter] = []

    def busy_limiter(limits: NumberLimits) -> NumberLimiter:
        limiter = NumberLimiter(limits)
        limiter.acquire_nowait("13800130007")  # sent moments ago, by this process
        made.append(limiter)
        return limiter

    monkeypatch.setattr("crowdsms.cli._send.NumberLimiter", busy_limiter)
    code, output, outcomes = send(tmp_path, contacts, "--per-number", "1/m,5/h,10/d")
    assert code == 0, output
    assert made[0].limits == NumberLimits()
    assert [o["code"] for o in outcomes if o["status"] == "skipped"] == ["number_limited"]
    assert outcomes[7]["code"] == "number_limited"
    assert "1 per minute" in outcomes[7]["message"]
    assert sum(o["status"] == "sent" for o in outcomes) == 29


def test_without_the_option_there_is_no_limiter(
    tmp_path: Path, contacts: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(limits: NumberLimits) -> NumberLimiter:
        raise AssertionError("no limiter without --per-number")

    monkeypatch.setattr("crowdsms.cli._send.NumberLimiter", refuse)
    code, output, outcomes = send(tmp_path, contacts)
    assert code == 0, output
    assert len(outcomes) == 30


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("1/x", "'1/x' is not COUNT/LENGTH"),
        ("0/m", "at least 1"),
        ("1/m,2/60s", "two windows of 1 minute"),
    ],
)
def test_bad_limits_are_a_usage_error(
    tmp_path: Path, contacts: Path, value: str, says: str
) -> None:
    code, output, outcomes = send(tmp_path, contacts, "--per-number", value)
    assert code == 2
    assert "--per-number" in output
    assert says in output
    assert outcomes == []
