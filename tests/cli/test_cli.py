"""The ``crowdsms`` command, run as a user runs it: a subprocess, its output and exit code."""

from __future__ import annotations

import csv
import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ENV_PREFIXES = ("CROWDSMS_",)


def run(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m crowdsms ARGS`` with no credentials in the environment."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(ENV_PREFIXES)}
    clean["CROWDSMS_CONFIG"] = str(cwd / "no-config.toml")  # never the developer's own file
    clean["COLUMNS"] = "200"
    clean.update(env or {})
    if not (cwd / "no-config.toml").exists():
        (cwd / "no-config.toml").write_text("")
    return subprocess.run(
        [sys.executable, "-m", "crowdsms", *args],
        cwd=cwd,
        env=clean,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def write_csv(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows(rows)
    return path


@pytest.fixture
def recipients(tmp_path: Path) -> Path:
    rows = [["mobile", "name", "code"]]
    rows += [[f"1380013{i:04d}", f"用户{i}", f"{i:06d}"] for i in range(120)]
    rows.append(["12345", "bad", "0"])  # invalid
    rows.append(["13800130005", "dup", "0"])  # duplicate of row 5
    return write_csv(tmp_path / "contacts.csv", rows)


def read_jsonl(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_send_through_the_embedded_sandbox(tmp_path: Path, recipients: Path) -> None:
    out = tmp_path / "outcomes.jsonl"
    result = run(
        "send",
        str(recipients),
        "--phone-column",
        "mobile",
        "--content",
        "【测试】@var(name)，验证码 @var(code)",
        "--output",
        str(out),
        "--quiet",
        "--sandbox",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert "embedded sandbox" in result.stderr
    outcomes = read_jsonl(out)
    assert len(outcomes) == 122
    statuses = [o["status"] for o in outcomes]
    assert statuses.count("sent") == 120
    assert statuses[120:] == ["skipped", "skipped"]
    assert [o["code"] for o in outcomes[120:]] == ["invalid", "duplicate"]
    assert "120" in result.stdout  # the summary table
    assert "sent" in result.stdout
    # The summary names the HTTP library: aiohttp's lanes on asyncio when it is installed.
    library = "aiohttp" if importlib.util.find_spec("aiohttp") else "httpx"
    assert f"{library} lanes" in result.stdout
    assert "crowdsms[aiohttp]" in result.stdout
    assert "connections" in result.stdout


def test_demo_is_the_quick_start(tmp_path: Path) -> None:
    result = run("demo", "--recipients", "600", "--quiet", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "sent" in result.stdout
    assert "600" in result.stdout


def test_journal_resume_after_finish_sends_nothing_again(tmp_path: Path, recipients: Path) -> None:
    journal = tmp_path / "job.sqlite"
    common = [
        "send",
        str(recipients),
        "--phone-column",
        "mobile",
        "--content",
        "【测试】@var(name)，验证码 @var(code)",
        "--journal",
        str(journal),
        "--job-id",
        "promo-1",
        "--quiet",
        "--sandbox",
    ]
    first = run(*common, "--output", str(tmp_path / "a.jsonl"), cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    again = run(*common, "--output", str(tmp_path / "b.jsonl"), cwd=tmp_path)
    assert again.returncode == 2
    assert "--resume" in again.stderr
    resumed = run(*common, "--resume", "--output", str(tmp_path / "b.jsonl"), cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    # every outcome comes back from the journal, identical (the resumed job also marks sent
    # ones as awaiting a delivery report), and nothing new was sent
    first_rows, resumed_rows = read_jsonl(tmp_path / "a.jsonl"), read_jsonl(tmp_path / "b.jsonl")
    assert {row["delivery"] for row in resumed_rows if row["status"] == "sent"} == {"awaiting"}
    for row in first_rows + resumed_rows:
        row.pop("delivery")
    assert first_rows == resumed_rows
    assert "from the journal" in resumed.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["send", "missing.csv", "--content", "【测试】hi"], "no such file"),
        (["send", "contacts.csv", "--content", "【测试】hi"], "no column 'phone'"),
        (["send", "contacts.csv", "--phone-column", "mobile", "--sandbox"], "needs --content"),
        (["send", "contacts.csv", "--phone-column", "mobile", "--concurrency", "0"], "concurrency"),
        (
            ["send", "contacts.csv", "--phone-column", "mobile", "--output", "x.txt"],
            ".jsonl or .csv",
        ),
        (
            ["send", "contacts.csv", "--phone-column", "mobile", "--resume"],
            "--resume needs --journal",
        ),
        (["send", "contacts.csv", "--provider", "nope"], "provider"),
        (["frobnicate"], "No such command"),
        (
            [
                "send",
                "contacts.csv",
                "--phone-column",
                "mobile",
                "--content",
                "no signature",
                "--sandbox",
            ],
            "signature",
        ),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    tmp_path: Path, recipients: Path, args: list[str], message: str
) -> None:
    result = run(*args, cwd=tmp_path)
    assert result.returncode == 2, (result.stdout, result.stderr)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("crowdsms: error:")]
    assert len(errors) == 1, result.stderr
    assert message in errors[0]
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("data", "encoding"),
    [
        ("\ufeffphone,name\n13800138000,甲\n".encode(), "utf-8"),  # a BOM, encoding given
        (b"phone, name\n13800138000,a\n", None),  # a space after the comma
        (b"\nphone,name\n13800138000,a\n", None),  # a blank line before the header
    ],
)
def test_the_header_is_read_as_the_job_reads_it(
    tmp_path: Path, data: bytes, encoding: str | None
) -> None:
    """The command checks the header with the reader's own code: a file the job can read is
    never refused by the check in front of it."""
    (tmp_path / "h.csv").write_bytes(data)
    given = ["--encoding", encoding] if encoding else []
    result = run(
        *("send", "h.csv", "--sandbox", "--content", "【测试】@var(name)", "--quiet", *given),
        *("--output", "out.jsonl"),
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert [row["status"] for row in read_jsonl(tmp_path / "out.jsonl")] == ["sent"]


def test_a_row_without_a_value_the_message_uses_is_skipped_not_sent_blank(
    tmp_path: Path,
) -> None:
    csv_rows = [["phone", "name", "note"], ["13800138000"], ["13900139000", "乙", ""]]
    write_csv(tmp_path / "c.csv", csv_rows)
    result = run(
        *("send", "c.csv", "--sandbox", "--content", "【测试】@var(name)，您好", "--quiet"),
        *("--output", "out.jsonl"),
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    rows = read_jsonl(tmp_path / "out.jsonl")
    assert [(row["status"], row["code"]) for row in rows] == [
        ("skipped", "short_row"),
        ("sent", None),  # an empty value with its comma is a value
    ]
    assert "no value for 'name'" in str(rows[0]["message"])


def test_a_file_that_cannot_be_read_as_its_encoding_is_one_line_and_exit_2(
    tmp_path: Path, recipients: Path
) -> None:
    result = run(
        *("send", "contacts.csv", "--phone-column", "mobile", "--encoding", "utf-16"),
        *("--sandbox", "--content", "【测试】hi"),
        cwd=tmp_path,
    )
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert "cannot be read as utf-16" in result.stderr


def test_malformed_config_is_a_clear_error(tmp_path: Path, recipients: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[submail\napp_id = 1")
    result = run(
        "send",
        str(recipients),
        "--phone-column",
        "mobile",
        "--content",
        "【测试】hi",
        cwd=tmp_path,
        env={"CROWDSMS_CONFIG": str(bad)},
    )
    assert result.returncode == 2
    assert "not valid TOML" in result.stderr
    assert "Traceback" not in result.stderr


def test_half_configured_credentials_are_refused_without_echoing_the_key(
    tmp_path: Path, recipients: Path
) -> None:
    result = run(
        "send",
        str(recipients),
        "--phone-column",
        "mobile",
        "--content",
        "【测试】hi",
        cwd=tmp_path,
        env={"CROWDSMS_SUBMAIL_APP_KEY": "very-secret-key-123"},
    )
    assert result.returncode == 2
    assert "app_id is missing" in result.stderr
    assert "very-secret-key-123" not in result.stderr + result.stdout


def test_failed_recipients_exit_1(tmp_path: Path) -> None:
    # The sandbox knows no SendCloud template 999 and refuses the requests, so every
    # recipient fails and the exit status says so.
    rows = [["phone", "name"], ["13800138000", "a"], ["13800138001", "b"]]
    path = write_csv(tmp_path / "r.csv", rows)
    result = run(
        "send",
        str(path),
        "--provider",
        "sendcloud",
        "--template-id",
        "999",
        "--quiet",
        "--sandbox",
        cwd=tmp_path,
    )
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "failed" in result.stdout


def test_account_commands_against_the_sandbox(tmp_path: Path) -> None:
    balance = run("balance", "--sandbox", cwd=tmp_path)
    assert balance.returncode == 0, balance.stderr
    assert balance.stdout.startswith("balance: ")
    clock = run("time", "--provider", "sendcloud", "--sandbox", cwd=tmp_path)
    assert clock.returncode == 0, clock.stderr
    assert "server time:" in clock.stdout
    reports = run("reports", "deliveries", "--sandbox", cwd=tmp_path)
    assert reports.returncode == 0, reports.stderr
    assert "0 deliveries" in reports.stderr


def test_ctrl_c_stops_cleanly_and_the_job_resumes(tmp_path: Path) -> None:
    rows = [["phone", "name"]] + [[f"1390013{i:04d}", "n"] for i in range(6000)]
    path = write_csv(tmp_path / "big.csv", rows)
    journal = tmp_path / "job.sqlite"
    args = [
        "send",
        str(path),
        "--content",
        "【测试】@var(name)",
        "--journal",
        str(journal),
        "--job-id",
        "big",
        "--rate",
        "1500",
        "--concurrency",
        "2",
        "--quiet",
        "--sandbox",
    ]
    clean = {k: v for k, v in os.environ.items() if not k.startswith(ENV_PREFIXES)}
    clean["CROWDSMS_CONFIG"] = str(tmp_path / "none.toml")
    (tmp_path / "none.toml").write_text("")
    process = subprocess.Popen(
        [sys.executable, "-m", "crowdsms", *args, "--output", str(tmp_path / "first.jsonl")],
        cwd=tmp_path,
        env=clean,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        first = tmp_path / "first.jsonl"
        for _ in range(600):  # bounded wait until some outcomes are written
            if first.exists() and first.stat().st_size > 0:
                break
            time.sleep(0.05)
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 130, stderr
    assert "Resume with: " in stderr
    assert "-m crowdsms send" in stderr
    assert stderr.rstrip().endswith("--resume")
    assert "Traceback" not in stderr
    first_outcomes = read_jsonl(first)
    sent_before = [o for o in first_outcomes if o["status"] == "sent"]
    assert 0 < len(sent_before) < 6000
    # the first Ctrl-C lets requests in flight finish: nothing is left unknown
    assert {o["status"] for o in first_outcomes} <= {"sent", "failed"}

    resumed = run(*args, "--resume", "--output", str(tmp_path / "second.jsonl"), cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    outcomes = read_jsonl(tmp_path / "second.jsonl")
    assert [o["position"] for o in outcomes] == list(range(6000))
    assert {o["status"] for o in outcomes} == {"sent"}
