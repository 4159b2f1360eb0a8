"""A journal cannot be resumed against the sandbox and the real provider interchangeably.

The "real" provider here is a sandbox started by the test and given to the command as the
configured SUBMAIL account, so its ledger shows what a real resume would have sent;
``--sandbox`` starts the command's own embedded sandbox.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from crowdsms.sandbox import Sandbox, SandboxSettings, serve_in_thread
from tests.cli.test_cli_safety import CONTENT, contacts, crowdsms, error_lines, submail_env


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with serve_in_thread(SandboxSettings()) as running:
        yield running


def job_args(tmp_path: Path, *extra: str) -> list[str]:
    return [
        "send",
        str(contacts(tmp_path, 50)),
        "--content",
        CONTENT,
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


def test_a_sandbox_rehearsal_cannot_be_resumed_for_real(sandbox: Sandbox, tmp_path: Path) -> None:
    env = submail_env(sandbox, tmp_path)
    rehearsal = crowdsms(*job_args(tmp_path, "--sandbox"), cwd=tmp_path, env=env)
    assert rehearsal.returncode == 0, rehearsal.stderr

    real = crowdsms(*job_args(tmp_path, "--resume"), cwd=tmp_path, env=env)
    assert real.returncode == 2, real.stdout
    assert sandbox.requests("submail") == 0
    (line,) = error_lines(real)
    assert "cannot resume: it was recorded sending elsewhere" in line
    assert "sandbox 'yes' then, 'no' now" in line
    assert "--sandbox setting" in line
    assert "new --job-id" in line
    assert "every recipient again" in line
    assert "sandbox-appkey" not in real.stderr + real.stdout  # no secret in the error

    # The rehearsal itself resumes (the embedded sandbox's port differs on every run).
    again = crowdsms(*job_args(tmp_path, "--resume", "--sandbox"), cwd=tmp_path, env=env)
    assert again.returncode == 0, again.stderr
    assert sandbox.requests("submail") == 0


def test_a_real_job_cannot_be_finished_in_the_sandbox(sandbox: Sandbox, tmp_path: Path) -> None:
    wrong = submail_env(sandbox, tmp_path, CROWDSMS_SUBMAIL_APP_KEY="wrong-key")
    stopped = crowdsms(*job_args(tmp_path), cwd=tmp_path, env=wrong)
    assert stopped.returncode == 1, stopped.stderr  # a refused key stops it after one request
    assert sandbox.ledger.phones() == []

    env = submail_env(sandbox, tmp_path)
    emulated = crowdsms(*job_args(tmp_path, "--resume", "--sandbox"), cwd=tmp_path, env=env)
    assert emulated.returncode == 2, emulated.stdout
    assert "sandbox 'no' then, 'yes' now" in error_lines(emulated)[0]

    # So the real resume still has every recipient to send.
    fixed = crowdsms(*job_args(tmp_path, "--resume"), cwd=tmp_path, env=env)
    assert fixed.returncode == 0, fixed.stderr
    assert len(set(sandbox.ledger.phones())) == 50


def test_another_job_id_is_said_to_send_to_everyone_again(sandbox: Sandbox, tmp_path: Path) -> None:
    env = submail_env(sandbox, tmp_path)
    assert crowdsms(*job_args(tmp_path), cwd=tmp_path, env=env).returncode == 0
    again = crowdsms(*job_args(tmp_path), cwd=tmp_path, env=env)
    assert again.returncode == 2
    (line,) = error_lines(again)
    assert "pass --resume to continue it" in line
    assert "sends to every recipient again, including those this job already sent" in line
    assert sandbox.requests("submail") == 5


def test_a_dry_run_of_a_resumed_job_is_refused(sandbox: Sandbox, tmp_path: Path) -> None:
    env = submail_env(sandbox, tmp_path)
    assert crowdsms(*job_args(tmp_path), cwd=tmp_path, env=env).returncode == 0
    dry = crowdsms(*job_args(tmp_path, "--resume", "--dry-run"), cwd=tmp_path, env=env)
    assert dry.returncode == 2, dry.stdout
    assert "to send" not in dry.stdout
    (line,) = error_lines(dry)
    assert "--dry-run" in line
    assert "cannot tell what a resumed job still has to send" in line
    assert sandbox.requests("submail") == 5
