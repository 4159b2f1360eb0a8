"""``crowdsms reconcile`` and the resend option of ``crowdsms send``, as a user runs them.

paasw keeps delivery reports for pulling, so these need no webhook server: ``reconcile
--provider paasw`` pulls them into the journal, then applies them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from crowdsms.sandbox import Sandbox, SandboxSettings, serve_in_thread
from tests.cli.test_cli_safety import clean_env, contacts, crowdsms, read_jsonl


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with serve_in_thread(SandboxSettings()) as running:
        yield running


def paasw_env(sandbox: Sandbox, tmp_path: Path) -> dict[str, str]:
    credentials = sandbox.credentials("paasw")
    return clean_env(
        tmp_path,
        {
            "CROWDSMS_PAASW_APP_ID": credentials["app_id"],
            "CROWDSMS_PAASW_SECRET": credentials["secret"],
            "CROWDSMS_PAASW_BASE_URL": sandbox.base_url("paasw"),
        },
    )


def send_args(tmp_path: Path, *extra: str) -> list[str]:
    return [
        "send",
        str(contacts(tmp_path, 30)),
        "--provider",
        "paasw",
        "--content",
        "【店】到货",
        "--kind",
        "2",
        "--chunk-size",
        "10",
        "--concurrency",
        "1",
        "--journal",
        str(tmp_path / "job.sqlite"),
        "--job-id",
        "promo",
        "--quiet",
        *extra,
    ]


def ledger_counts(sandbox: Sandbox) -> Counter[str | None]:
    return Counter(entry.phone for entry in sandbox.ledger.entries(provider="paasw"))


def test_a_lost_answer_is_confirmed_by_the_pulled_reports(sandbox: Sandbox, tmp_path: Path) -> None:
    env = paasw_env(sandbox, tmp_path)
    sandbox.force_fault("drop_after", provider="paasw", path="sms/send")
    first = crowdsms(
        *send_args(tmp_path, "--output", str(tmp_path / "a.jsonl")), cwd=tmp_path, env=env
    )
    assert first.returncode == 1, first.stderr
    assert Counter(o["status"] for o in read_jsonl(tmp_path / "a.jsonl")) == {
        "sent": 20,
        "unknown": 10,
    }
    assert "crowdsms reconcile promo --journal" in first.stderr
    journal = str(tmp_path / "job.sqlite")
    settled = crowdsms(
        "reconcile", "promo", "--journal", journal, "--provider", "paasw", cwd=tmp_path, env=env
    )
    assert settled.returncode == 0, settled.stderr
    lines = {
        line.split("│")[1].strip(): line for line in settled.stdout.splitlines() if "│" in line
    }
    assert lines["confirmed"].split("│")[2].strip() == "10"
    assert lines["delivered"].split("│")[2].strip() == "30"
    assert lines["unknown"].split("│")[2].strip() == "0"
    # Nothing to resend: every recipient is confirmed, so the provider got each once.
    resumed = crowdsms(
        *send_args(tmp_path, "--resume", "--resend-unconfirmed-after", "0s"), cwd=tmp_path, env=env
    )
    assert resumed.returncode == 0, resumed.stderr
    assert "At-least-once" in resumed.stderr
    confirmed = [line for line in resumed.stdout.splitlines() if "confirmed" in line]
    assert confirmed, resumed.stdout
    assert "10" in confirmed[0]
    assert set(ledger_counts(sandbox).values()) == {1}
    assert len(ledger_counts(sandbox)) == 30


def test_a_request_never_processed_stays_unknown_until_resent_on_request(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    env = paasw_env(sandbox, tmp_path)
    sandbox.force_fault("drop", provider="paasw", path="sms/send")
    first = crowdsms(*send_args(tmp_path), cwd=tmp_path, env=env)
    assert first.returncode == 1, first.stderr
    journal = str(tmp_path / "job.sqlite")
    still = crowdsms(
        "reconcile", "promo", "--journal", journal, "--provider", "paasw", cwd=tmp_path, env=env
    )
    assert still.returncode == 1
    assert "10 recipients are still unknown" in still.stderr.replace("\n", " ")
    plain = crowdsms(*send_args(tmp_path, "--resume"), cwd=tmp_path, env=env)
    assert plain.returncode == 1  # resuming alone never resends them
    assert len(ledger_counts(sandbox)) == 20
    resent = crowdsms(
        *send_args(
            tmp_path,
            "--resume",
            "--resend-unconfirmed-after",
            "0",
            "--output",
            str(tmp_path / "b.jsonl"),
        ),
        cwd=tmp_path,
        env=env,
    )
    assert resent.returncode == 0, resent.stderr
    assert {o["status"] for o in read_jsonl(tmp_path / "b.jsonl")} == {"sent"}
    counts = ledger_counts(sandbox)
    assert len(counts) == 30
    assert set(counts.values()) == {1}


def test_the_resend_option_needs_a_resumed_job(sandbox: Sandbox, tmp_path: Path) -> None:
    result = crowdsms(
        *send_args(tmp_path, "--resend-unconfirmed-after", "30m"),
        cwd=tmp_path,
        env=paasw_env(sandbox, tmp_path),
    )
    assert result.returncode == 2
    assert "--resume" in result.stderr
    assert sandbox.requests("paasw") == 0


@pytest.mark.parametrize("value", ["soon", "30 minutes", "-5m"])
def test_a_bad_duration_is_named(sandbox: Sandbox, tmp_path: Path, value: str) -> None:
    result = crowdsms(
        *send_args(tmp_path, "--resume", "--resend-unconfirmed-after", value),
        cwd=tmp_path,
        env=paasw_env(sandbox, tmp_path),
    )
    assert result.returncode == 2
    assert "is not a duration" in result.stderr


def test_reconcile_names_a_missing_job(sandbox: Sandbox, tmp_path: Path) -> None:
    env = paasw_env(sandbox, tmp_path)
    assert crowdsms(*send_args(tmp_path), cwd=tmp_path, env=env).returncode == 0
    result = crowdsms(
        "reconcile", "promotion", "--journal", str(tmp_path / "job.sqlite"), cwd=tmp_path, env=env
    )
    assert result.returncode == 2
    assert "no job 'promotion'" in result.stderr
    assert "promo" in result.stderr


def test_reconcile_without_credentials_names_them_and_no_option_it_lacks(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    env = paasw_env(sandbox, tmp_path)
    assert crowdsms(*send_args(tmp_path), cwd=tmp_path, env=env).returncode == 0
    result = crowdsms(
        *("reconcile", "promo", "--provider", "paasw", "--journal", str(tmp_path / "job.sqlite")),
        cwd=tmp_path,
        env=clean_env(tmp_path, {}),
    )
    assert result.returncode == 2, result.stderr
    assert "CROWDSMS_PAASW_APP_ID" in result.stderr
    assert "--sandbox" not in result.stderr  # reconcile has no such option


def test_a_bad_send_window_is_named_before_anything_is_sent(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    result = crowdsms(
        *send_args(tmp_path, "--send-window", "21:00-21:00"),
        cwd=tmp_path,
        env=paasw_env(sandbox, tmp_path),
    )
    assert result.returncode == 2
    assert "'21:00-21:00' is not a daily window" in result.stderr
    assert sandbox.requests("paasw") == 0


def test_a_send_inside_its_window_sends_everyone(sandbox: Sandbox, tmp_path: Path) -> None:
    result = crowdsms(
        *send_args(tmp_path, "--send-window", "00:00-23:59"),
        cwd=tmp_path,
        env=paasw_env(sandbox, tmp_path),
    )
    # (run between 23:59 and midnight, the job waits for the window to open: < 60 s)
    assert result.returncode == 0, result.stderr
    assert len(ledger_counts(sandbox)) == 30
