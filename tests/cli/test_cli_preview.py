"""``crowdsms send --dry-run`` and the spend caps, run as a user runs them.

The command runs in a subprocess against a sandbox started here, whose URL and credentials
it is given as real ones, so the sandbox's request counts and ledger show what it sent.
"""

from __future__ import annotations

import csv
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from crowdsms.sandbox import Sandbox, SandboxSettings, serve_in_thread
from crowdsms.sandbox.emulators.sendcloud import SENDCLOUD_TEMPLATES

CONTENT = "【测试】@var(name)，验证码 @var(code)"  # 10 characters without the values


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with serve_in_thread(SandboxSettings()) as running:
        yield running


def env_for(sandbox: Sandbox, tmp_path: Path, provider: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CROWDSMS_")}
    (tmp_path / "empty.toml").write_text("")
    env["CROWDSMS_CONFIG"] = str(tmp_path / "empty.toml")
    env["COLUMNS"] = "200"
    for name, value in sandbox.credentials(provider).items():
        env[f"CROWDSMS_{provider.upper()}_{name.upper()}"] = value
    env[f"CROWDSMS_{provider.upper()}_BASE_URL"] = sandbox.base_url(provider)
    return env


def crowdsms(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "crowdsms", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def contacts(tmp_path: Path, count: int = 90) -> Path:
    """Names that make messages of 1, 2 and 3 segments in turn (70, 134, 201 characters)."""
    rows = [["phone", "name", "code"]]
    lengths = (70, 134, 201)
    for i in range(count):
        rows.append([f"1380013{i:04d}", "名" * (lengths[i % 3] - 10 - 4), f"{i:04d}"])
    rows += [["12345", "bad", "0000"], ["13800130005", "dup", "0000"]]
    path = tmp_path / "contacts.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows(rows)
    return path


def row(stdout: str, label: str) -> list[str]:
    """The cells of the table row that starts with ``label``."""
    for line in stdout.splitlines():
        cells = [cell.strip() for cell in re.split(r"[│┃]", line)[1:-1]]
        if cells and cells[0] == label:
            return cells
    raise AssertionError(f"no row {label!r} in:\n{stdout}")


def test_a_dry_run_sends_nothing_and_counts_what_the_send_then_costs(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    env = env_for(sandbox, tmp_path, "submail")
    recipients = str(contacts(tmp_path))
    out = tmp_path / "outcomes.jsonl"
    dry = crowdsms(
        "send",
        recipients,
        "--content",
        CONTENT,
        "--dry-run",
        "--output",
        str(out),
        cwd=tmp_path,
        env=env,
    )
    assert dry.returncode == 0, dry.stderr
    assert not out.exists()
    assert "was not written" in dry.stderr
    assert sandbox.requests() == 0  # not one request, of any kind
    assert len(sandbox.ledger) == 0
    assert "nothing was sent" in dry.stdout
    assert "Nothing was sent" in dry.stderr
    assert row(dry.stdout, "recipients")[1] == "92"
    assert row(dry.stdout, "to send")[1] == "90"
    assert row(dry.stdout, "invalid")[1] == "1"
    assert row(dry.stdout, "duplicates")[1] == "1"
    assert row(dry.stdout, "requests")[1:3] == ["2", "up to 50 recipients each"]
    assert row(dry.stdout, "1 segment each")[1] == "30"
    assert row(dry.stdout, "3 segments each")[1] == "30"
    segments = int(row(dry.stdout, "segments")[1])
    assert segments == 30 * (1 + 2 + 3)
    assert row(dry.stdout, "estimated cost")[1] == "CNY 9.00"
    assert "138****0002" in dry.stdout  # the longest messages, numbers masked
    assert "13800130002" not in dry.stdout
    sent = crowdsms("send", recipients, "--content", CONTENT, "--quiet", cwd=tmp_path, env=env)
    assert sent.returncode == 0, sent.stderr
    assert sum(entry.fee for entry in sandbox.ledger.entries()) == segments


def test_paasw_shows_its_balance_and_warns_when_it_is_short(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    env = env_for(sandbox, tmp_path, "paasw")
    recipients = str(contacts(tmp_path))
    sandbox.top_up("paasw", 150 - sandbox.balance("paasw"))
    common = ["send", recipients, "--provider", "paasw", "--content", "【店】" + "到" * 80]
    dry = crowdsms(*common, "--kind", "2", "--dry-run", "--price", "0.1", cwd=tmp_path, env=env)
    assert dry.returncode == 0, dry.stderr
    assert len(sandbox.ledger) == 0
    assert sandbox.balance("paasw") == 150
    assert row(dry.stdout, "segments")[1] == "180"  # 84 characters: 2 each, 90 numbers
    assert row(dry.stdout, "estimated cost")[1] == "CNY 18.00"
    assert "(--price)" in row(dry.stdout, "estimated cost")[2]
    assert row(dry.stdout, "balance")[1] == "150.0 segments"
    warning = " ".join(dry.stderr.split())
    assert "does not cover this job (180 segments): it lacks 30 segments" in warning
    sandbox.top_up("paasw", 1000)
    enough = crowdsms(*common, "--kind", "2", "--dry-run", cwd=tmp_path, env=env)
    assert enough.returncode == 0, enough.stderr
    assert "does not cover" not in enough.stderr


def test_a_spend_cap_stops_the_send_and_a_higher_cap_resumes_it(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    env = env_for(sandbox, tmp_path, "submail")
    recipients = str(contacts(tmp_path))
    journal = str(tmp_path / "job.sqlite")
    common = ["send", recipients, "--content", CONTENT, "--chunk-size", "6", "--quiet"]
    common += ["--concurrency", "4", "--journal", journal, "--job-id", "promo"]
    capped = crowdsms(*common, "--max-segments", "100", cwd=tmp_path, env=env)
    assert capped.returncode == 1, capped.stderr
    spent = sum(entry.fee for entry in sandbox.ledger.entries())
    assert 0 < spent <= 100
    assert "code spend_cap" in capped.stdout
    assert "spend cap of 100 segments" in " ".join(capped.stderr.split())
    assert "higher --max-segments" in " ".join(capped.stderr.split())
    resumed = crowdsms(*common, "--resume", "--max-segments", "180", cwd=tmp_path, env=env)
    assert resumed.returncode == 0, resumed.stderr
    phones = [entry.phone for entry in sandbox.ledger.entries()]
    assert len(phones) == len(set(phones)) == 90
    assert sum(entry.fee for entry in sandbox.ledger.entries()) == 180


def test_a_capped_job_without_a_journal_says_it_cannot_be_resumed(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    env = env_for(sandbox, tmp_path, "submail")
    args = ["send", str(contacts(tmp_path)), "--content", CONTENT, "--chunk-size", "3"]
    capped = crowdsms(*args, "--quiet", "--max-segments", "20", cwd=tmp_path, env=env)
    assert capped.returncode == 1, capped.stderr
    said = " ".join((capped.stdout + capped.stderr).split())
    assert "cannot be resumed" in said
    assert "sends to every recipient again" in said
    assert "resuming the job" not in said
    assert "Resume the job" not in said


def test_a_cost_cap_uses_the_price(sandbox: Sandbox, tmp_path: Path) -> None:
    env = env_for(sandbox, tmp_path, "submail")
    recipients = str(contacts(tmp_path))
    args = ["send", recipients, "--content", CONTENT, "--chunk-size", "3", "--quiet"]
    capped = crowdsms(*args, "--max-cost", "1", "--price", "0.1", cwd=tmp_path, env=env)
    assert capped.returncode == 1, capped.stderr
    assert 0 < sum(entry.fee for entry in sandbox.ledger.entries()) <= 10
    assert "CNY 1" in " ".join(capped.stderr.split())


def test_sendcloud_needs_the_template_text_to_count(sandbox: Sandbox, tmp_path: Path) -> None:
    env = env_for(sandbox, tmp_path, "sendcloud")
    path = tmp_path / "codes.csv"
    path.write_text("phone,code\n13800138000,1234\n13800138001,5678\n", encoding="utf-8")
    common = ["send", str(path), "--provider", "sendcloud", "--template-id", "1"]
    blind = crowdsms(*common, "--dry-run", cwd=tmp_path, env=env)
    assert blind.returncode == 0, blind.stderr
    assert row(blind.stdout, "segments")[1] == "unknown"
    assert "--template-text" in " ".join(blind.stdout.split())
    refused = crowdsms(*common, "--max-segments", "10", cwd=tmp_path, env=env)
    assert refused.returncode == 2
    assert "--template-text" in refused.stderr
    assert sandbox.requests("sendcloud") == 0
    text = SENDCLOUD_TEMPLATES[1]
    known = crowdsms(*common, "--template-text", text, "--dry-run", cwd=tmp_path, env=env)
    assert known.returncode == 0, known.stderr
    assert row(known.stdout, "segments")[1] == "2"
    typo = text.replace("%code%", "%cod%")
    wrong = crowdsms(*common, "--template-text", typo, "--dry-run", cwd=tmp_path, env=env)
    assert wrong.returncode == 2
    assert "'cod'" in wrong.stderr


def test_crowdtask_says_segments_do_not_apply(sandbox: Sandbox, tmp_path: Path) -> None:
    env = env_for(sandbox, tmp_path, "crowdtask")
    path = tmp_path / "rows.csv"
    path.write_text("phone,name\nrow-1,a\nrow-2,b\n", encoding="utf-8")
    args = ["send", str(path), "--provider", "crowdtask", "--project-id", "1", "--dry-run"]
    dry = crowdsms(*args, cwd=tmp_path, env=env)
    assert dry.returncode == 0, dry.stderr
    assert "tasks, not SMS" in " ".join(dry.stdout.split())
    assert sandbox.requests() == 0


def test_a_balance_in_money_is_compared_with_the_estimated_cost() -> None:
    from decimal import Decimal

    from crowdsms.batch import Preview
    from crowdsms.cli._dry_run import Balance, DryRun, dry_run_notes

    preview = Preview(
        recipients=100,
        valid=100,
        invalid=0,
        invalid_reasons={},
        duplicates=0,
        opted_out=0,
        requests=2,
        chunk_size=50,
        segments=300,
        histogram={3: 100},
        longest=(),
        price_per_segment=Decimal("0.05"),
    )
    short = DryRun(preview=preview, balance=Balance(value="12.5", unit="CNY"), cap=None)
    [warning, done] = dry_run_notes(short)
    assert warning.startswith("Warning: the balance (12.5 CNY) does not cover this job")
    assert "(CNY 15.00): it lacks CNY 2.50" in warning
    assert done.startswith("Nothing was sent")
    unknown_unit = DryRun(preview=preview, balance=Balance(value="1", unit=None), cap=None)
    assert len(dry_run_notes(unknown_unit)) == 1  # shown, never compared


def test_providers_lists_the_price_estimates(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CROWDSMS_")}
    listed = crowdsms("providers", cwd=tmp_path, env=env)
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.count("CNY 0.05 per SMS segment") == 3  # not CrowdTask's tasks
