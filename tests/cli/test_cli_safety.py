"""The command line cannot fake or stall a real campaign.

Each test runs ``python -m crowdsms`` as a subprocess, as a user would, against a sandbox
started here whose URL and credentials are given to the command as real ones (environment
variables or a config file), so the sandbox's ledger shows exactly what the command sent.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from crowdsms.sandbox import Sandbox, SandboxSettings, serve_in_thread

CONTENT = "【签名】@var(name)，您的验证码是 @var(code)"


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with serve_in_thread(SandboxSettings()) as running:
        yield running


def clean_env(tmp_path: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CROWDSMS_")}
    empty = tmp_path / "empty.toml"
    empty.write_text("")
    env["CROWDSMS_CONFIG"] = str(empty)  # never the developer's own file
    env["COLUMNS"] = "200"
    env.update(extra or {})
    return env


def submail_env(sandbox: Sandbox, tmp_path: Path, **overrides: str) -> dict[str, str]:
    credentials = sandbox.credentials("submail")
    values = {
        "CROWDSMS_SUBMAIL_APP_ID": credentials["app_id"],
        "CROWDSMS_SUBMAIL_APP_KEY": credentials["app_key"],
        "CROWDSMS_SUBMAIL_BASE_URL": sandbox.base_url("submail"),
    }
    values.update(overrides)
    return clean_env(tmp_path, values)


def crowdsms(
    *args: str, cwd: Path, env: dict[str, str], timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "crowdsms", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def write_csv(path: Path, rows: list[list[str]], encoding: str = "utf-8") -> Path:
    with path.open("w", encoding=encoding, newline="") as handle:
        csv.writer(handle).writerows(rows)
    return path


def contacts(tmp_path: Path, count: int = 30, *, columns: tuple[str, ...] = ("name", "code")):
    rows = [["phone", *columns]]
    rows += [[f"1380013{i:04d}", *(f"{c}{i}" for c in columns)] for i in range(count)]
    return write_csv(tmp_path / "contacts.csv", rows)


def error_lines(result: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("crowdsms: error:")]


def read_jsonl(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


# -- 1. never a silent sandbox ------------------------------------------------------------


def test_misspelt_config_keys_are_an_error_and_nothing_is_sent(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    config = tmp_path / "crowdsms.toml"
    config.write_text('[submail]\nappid = "x"\nappkey = "y"\n')
    env = clean_env(tmp_path, {"CROWDSMS_SUBMAIL_BASE_URL": sandbox.base_url("submail")})
    result = crowdsms(
        "send",
        str(contacts(tmp_path)),
        "--content",
        CONTENT,
        "--config",
        str(config),
        cwd=tmp_path,
        env=env,
    )
    assert result.returncode == 2, result.stderr
    (line,) = error_lines(result)
    assert "'appid'" in line
    assert "did you mean 'app_id'" in line
    assert sandbox.ledger.entries() == []
    assert sandbox.requests() == 0


def test_a_base_url_alone_is_an_error(sandbox: Sandbox, tmp_path: Path) -> None:
    env = clean_env(tmp_path, {"CROWDSMS_SUBMAIL_BASE_URL": sandbox.base_url("submail")})
    result = crowdsms("send", str(contacts(tmp_path)), "--content", CONTENT, cwd=tmp_path, env=env)
    assert result.returncode == 2
    assert "base URL but no credentials" in result.stderr
    assert sandbox.requests() == 0


@pytest.mark.parametrize(
    "args",
    [
        ["send", "contacts.csv", "--content", CONTENT],
        ["balance", "--provider", "paasw"],
        ["time", "--provider", "submail"],
        ["reports", "deliveries", "--provider", "paasw"],
    ],
)
def test_no_credentials_means_exit_2_and_where_it_looked(tmp_path: Path, args: list[str]) -> None:
    contacts(tmp_path)
    result = crowdsms(*args, cwd=tmp_path, env=clean_env(tmp_path))
    assert result.returncode == 2, result.stdout
    (line,) = error_lines(result)
    assert "credentials are configured" in line
    assert "CROWDSMS_" in line
    assert "--sandbox" in line
    assert "sandbox at" not in result.stderr  # it never started one


def test_unknown_sections_and_variables_are_named(sandbox: Sandbox, tmp_path: Path) -> None:
    config = tmp_path / "crowdsms.toml"
    config.write_text('[submial]\napp_id = "x"\n')
    result = crowdsms(
        "--config",
        str(config),
        "send",
        str(contacts(tmp_path)),
        "--content",
        CONTENT,
        cwd=tmp_path,
        env=clean_env(tmp_path),
    )
    assert result.returncode == 2
    assert "did you mean 'submail'" in result.stderr
    env = submail_env(sandbox, tmp_path, CROWDSMS_SUBMAIL_APPKEY="y")
    result = crowdsms("send", str(contacts(tmp_path)), "--content", CONTENT, cwd=tmp_path, env=env)
    assert result.returncode == 2
    assert "CROWDSMS_SUBMAIL_APPKEY" in result.stderr
    assert sandbox.requests() == 0


def test_config_works_before_or_after_the_command(sandbox: Sandbox, tmp_path: Path) -> None:
    credentials = sandbox.credentials("submail")
    config = tmp_path / "crowdsms.toml"
    config.write_text(
        f'[submail]\napp_id = "{credentials["app_id"]}"\napp_key = "{credentials["app_key"]}"\n'
        f'base_url = "{sandbox.base_url("submail")}"\n'
    )
    recipients = str(contacts(tmp_path, 5))
    after = crowdsms(
        "send",
        recipients,
        "--content",
        CONTENT,
        "--quiet",
        "--config",
        str(config),
        cwd=tmp_path,
        env=clean_env(tmp_path),
    )
    assert after.returncode == 0, after.stderr
    before = crowdsms("--config", str(config), "time", cwd=tmp_path, env=clean_env(tmp_path))
    assert before.returncode == 0, before.stderr
    assert len(sandbox.ledger.entries(provider="submail")) == 5


# -- 3. every variable checked before the first request ----------------------------------


@pytest.mark.parametrize(
    ("columns", "content", "expected"),
    [
        (("name",), CONTENT, "'code'"),
        (("name", "code"), "【签名】@var(nmae)", "did you mean 'name'"),
    ],
)
def test_a_variable_without_a_column_is_refused_before_any_request(
    sandbox: Sandbox, tmp_path: Path, columns: tuple[str, ...], content: str, expected: str
) -> None:
    recipients = contacts(tmp_path, columns=columns)
    result = crowdsms(
        "send",
        str(recipients),
        "--content",
        content,
        cwd=tmp_path,
        env=submail_env(sandbox, tmp_path),
    )
    assert result.returncode == 2
    (line,) = error_lines(result)
    assert expected in line
    assert "columns: phone" in line
    assert sandbox.requests() == 0


def test_paasw_takes_no_variables_by_default_and_the_sign_once(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    credentials = sandbox.credentials("paasw")
    env = clean_env(
        tmp_path,
        {
            "CROWDSMS_PAASW_APP_ID": credentials["app_id"],
            "CROWDSMS_PAASW_SECRET": credentials["secret"],
            "CROWDSMS_PAASW_BASE_URL": sandbox.base_url("paasw"),
        },
    )
    recipients = str(contacts(tmp_path, 5))
    twice = crowdsms(
        "send",
        recipients,
        "--provider",
        "paasw",
        "--content",
        "【店】到货",
        "--sign",
        "店",
        "--kind",
        "2",
        cwd=tmp_path,
        env=env,
    )
    assert twice.returncode == 2
    assert "twice" in twice.stderr
    once = crowdsms(
        "send",
        recipients,
        "--provider",
        "paasw",
        "--content",
        "【店】到货",
        "--kind",
        "2",
        "--quiet",
        cwd=tmp_path,
        env=env,
    )
    assert once.returncode == 0, once.stderr
    assert len(sandbox.ledger.entries(provider="paasw")) == 5


# -- 4 and 5. a refused key stops the job; a resume after the fix sends everything --------


def test_a_wrong_key_stops_after_one_request_and_a_fixed_resume_sends_all(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    recipients = str(contacts(tmp_path, 200))
    journal = str(tmp_path / "job.sqlite")
    common = ["send", recipients, "--content", CONTENT, "--chunk-size", "10", "--quiet"]
    common += ["--concurrency", "1", "--journal", journal, "--job-id", "promo"]
    wrong = submail_env(sandbox, tmp_path, CROWDSMS_SUBMAIL_APP_KEY="wrong-key")
    first = crowdsms(*common, "--output", str(tmp_path / "first.jsonl"), cwd=tmp_path, env=wrong)
    assert first.returncode == 1, first.stderr
    assert sandbox.requests("submail") == 1
    assert "stopped early" in first.stderr
    assert "108" in first.stderr or "signature" in first.stderr
    assert "resume with" in first.stderr
    outcomes = read_jsonl(tmp_path / "first.jsonl")
    assert len(outcomes) == 200
    assert [o["code"] for o in outcomes[10:]] == ["not_sent"] * 190
    assert "code 108" in first.stdout  # the summary's reason, with its explanation
    fixed = crowdsms(
        *common,
        "--resume",
        "--output",
        str(tmp_path / "second.jsonl"),
        cwd=tmp_path,
        env=submail_env(sandbox, tmp_path),
    )
    assert fixed.returncode == 0, fixed.stderr
    phones = [entry.phone for entry in sandbox.ledger.entries(provider="submail")]
    assert len(phones) == 200
    assert len(set(phones)) == 200
    assert {o["status"] for o in read_jsonl(tmp_path / "second.jsonl")} == {"sent"}


# -- 2. Ctrl-C: in-flight requests finish, the printed line resumes from anywhere ---------


def test_the_printed_resume_line_works_pasted_from_another_directory(tmp_path: Path) -> None:
    with serve_in_thread(SandboxSettings(latency=0.02)) as sandbox:
        work = tmp_path / "work"
        work.mkdir()
        recipients = contacts(work, 3000)
        env = submail_env(sandbox, tmp_path)
        args = [
            "send",
            "contacts.csv",
            "--content",
            CONTENT,
            "--journal",
            "job.sqlite",
            "--job-id",
            "big",
            "--rate",
            "1000",
            "--concurrency",
            "2",
            "--quiet",
            "--output",
            "first.jsonl",
        ]
        process = subprocess.Popen(
            [sys.executable, "-m", "crowdsms", *args],
            cwd=work,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            for _ in range(600):  # bounded wait until some chunks were sent
                if len(sandbox.ledger.entries(provider="submail")) >= 200:
                    break
                time.sleep(0.05)
            process.send_signal(signal.SIGINT)
            _, stderr = process.communicate(timeout=60)
        finally:
            process.kill()
        assert process.returncode == 130, stderr
        assert "Traceback" not in stderr
        (line,) = [x for x in stderr.splitlines() if "Resume with: " in x]
        command = line.split("Resume with: ", 1)[1]
        assert str(recipients) in command  # absolute paths
        elsewhere = tmp_path / "elsewhere"
        elsewhere.mkdir()
        resumed = subprocess.run(
            ["bash", "-c", command],
            cwd=elsewhere,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert resumed.returncode == 0, resumed.stderr
        phones = [entry.phone for entry in sandbox.ledger.entries(provider="submail")]
    assert len(phones) == 3000
    assert len(set(phones)) == 3000  # nothing sent twice, nothing left unknown


# -- encodings ----------------------------------------------------------------------------


def test_a_gb18030_file_is_detected_and_its_names_are_sent_right(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    rows = [["phone", "name", "code"], ["13800138000", "张三", "1"], ["13800138001", "刘䶮", "2"]]
    path = write_csv(tmp_path / "excel.csv", rows, encoding="gb18030")
    result = crowdsms(
        "send",
        str(path),
        "--content",
        CONTENT,
        "--quiet",
        cwd=tmp_path,
        env=submail_env(sandbox, tmp_path),
    )
    assert result.returncode == 0, result.stderr
    texts = sorted(entry.content or "" for entry in sandbox.ledger.entries(provider="submail"))
    assert any("张三" in text for text in texts)
    assert any("刘䶮" in text for text in texts)


def test_a_file_undecodable_mid_way_stops_cleanly_and_resumes(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    path = tmp_path / "mixed.csv"
    # past the 64 KiB that detection reads, one row is in GB18030 (as a careless merge does)
    lines = ["phone,name,code"] + [f"1380{i:07d},n{i},{i}" for i in range(5000)]
    data = ("\n".join(lines[:4500]) + "\n").encode("utf-8")
    data += ("\n".join(lines[4500:]).replace("n4600,", "王五,") + "\n").encode("gb18030")
    path.write_bytes(data)
    common = ["send", str(path), "--content", CONTENT, "--quiet", "--journal"]
    common += [str(tmp_path / "job.sqlite"), "--job-id", "mixed"]
    env = submail_env(sandbox, tmp_path)
    early = tmp_path / "early.csv"  # undecodable before any request: exit 2, nothing sent
    early.write_bytes(b"phone,name,code\n13800138000,a,1\n" + "13800138001,王,2\n".encode("gbk"))
    early_args = ["send", str(early), "--content", CONTENT, "--quiet", "--encoding", "utf-8"]
    (tmp_path / "kept.jsonl").write_text('{"an earlier run": true}\n')
    refused = crowdsms(*early_args, "--output", "kept.jsonl", cwd=tmp_path, env=env)
    assert refused.returncode == 2, refused.stderr
    assert sandbox.requests("submail") == 0
    # an earlier run's outcomes file is replaced only by a job that has outcomes
    assert (tmp_path / "kept.jsonl").read_text() == '{"an earlier run": true}\n'

    first = crowdsms(*common, "--output", "first.jsonl", cwd=tmp_path, env=env)
    # some were sent: exit 1 (not 2, "nothing was sent"), the summary, how to resume
    assert first.returncode == 1, first.stderr
    (line,) = error_lines(first)
    assert "row 4602" in line
    assert "--encoding gb18030" in line
    assert "Traceback" not in first.stderr
    sent_before = len(sandbox.ledger.entries(provider="submail"))
    assert 0 < sent_before < 5000
    assert f"{sent_before:,} recipients were sent" in first.stderr
    assert "resume with: " in first.stderr
    assert "job mixed" in first.stdout  # the summary table
    outcomes = read_jsonl(tmp_path / "first.jsonl")
    assert sum(o["status"] == "sent" for o in outcomes) == sent_before
    resumed = crowdsms(*common, "--resume", "--encoding", "gb18030", cwd=tmp_path, env=env)
    assert resumed.returncode == 0, resumed.stderr
    phones = [entry.phone for entry in sandbox.ledger.entries(provider="submail")]
    assert len(phones) == 5000
    assert len(set(phones)) == 5000


def test_an_output_in_a_missing_directory_is_refused_before_any_request(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    args = ["send", str(contacts(tmp_path)), "--content", CONTENT, "--quiet", "--output"]
    result = crowdsms(
        *args, "no/such/dir/out.jsonl", cwd=tmp_path, env=submail_env(sandbox, tmp_path)
    )
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    (line,) = error_lines(result)
    assert "--output" in line
    assert "no/such/dir does not exist" in line
    assert sandbox.requests("submail") == 0


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full (Linux)")
def test_an_output_that_cannot_be_written_mid_run_stops_and_resumes_without_unknowns(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    (tmp_path / "full.jsonl").symlink_to("/dev/full")  # every write: no space left on device
    common = ["send", str(contacts(tmp_path, 400)), "--content", CONTENT, "--quiet"]
    common += ["--chunk-size", "50", "--journal", "job.sqlite", "--job-id", "full"]
    env = submail_env(sandbox, tmp_path)
    first = crowdsms(*common, "--output", "full.jsonl", cwd=tmp_path, env=env)
    assert first.returncode == 1, first.stderr
    assert "Traceback" not in first.stderr
    (line,) = error_lines(first)
    assert "could not be written to full.jsonl" in line
    assert "No space left on device" in line
    assert "resume with: " in first.stderr
    assert "job full" in first.stdout  # the summary table
    sent_before = len(sandbox.ledger.entries(provider="submail"))
    assert sent_before > 0
    resumed = crowdsms(*common, "--resume", "--output", "again.jsonl", cwd=tmp_path, env=env)
    assert resumed.returncode == 0, resumed.stderr
    outcomes = read_jsonl(tmp_path / "again.jsonl")
    assert [o["status"] for o in outcomes] == ["sent"] * 400  # none left unknown
    phones = [entry.phone for entry in sandbox.ledger.entries(provider="submail")]
    assert len(phones) == 400
    assert len(set(phones)) == 400


# -- crowdsms check -----------------------------------------------------------------------


def test_check_proves_credentials_without_sending(sandbox: Sandbox, tmp_path: Path) -> None:
    credentials = sandbox.credentials("paasw")
    good = {
        "CROWDSMS_PAASW_APP_ID": credentials["app_id"],
        "CROWDSMS_PAASW_SECRET": credentials["secret"],
        "CROWDSMS_PAASW_BASE_URL": sandbox.base_url("paasw"),
    }
    ok = crowdsms("check", cwd=tmp_path, env=clean_env(tmp_path, good))
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.startswith("paasw")
    assert "ok:" in ok.stdout
    bad = clean_env(tmp_path, {**good, "CROWDSMS_PAASW_SECRET": "wrong"})
    refused = crowdsms("check", cwd=tmp_path, env=bad)
    assert refused.returncode == 1
    assert "refused" in refused.stdout
    assert "wrong" not in refused.stdout + refused.stderr
    submail = crowdsms("check", cwd=tmp_path, env=submail_env(sandbox, tmp_path))
    assert submail.returncode == 0
    assert "cannot check the credentials" in submail.stdout
    assert sandbox.ledger.entries() == []
    nothing = crowdsms("check", cwd=tmp_path, env=clean_env(tmp_path))
    assert nothing.returncode == 2


# -- a missing extra is one line ----------------------------------------------------------


@pytest.mark.parametrize(
    ("blocked", "args", "extra"),
    [
        ("click", ["demo"], "crowdsms[cli]"),
        ("starlette", ["demo", "--quiet", "--recipients", "5"], "crowdsms[sandbox]"),
    ],
)
def test_a_missing_extra_is_one_line_naming_it(
    tmp_path: Path, blocked: str, args: list[str], extra: str
) -> None:
    program = (
        "import sys\n"
        f"sys.modules[{blocked!r}] = None  # as if the package were not installed\n"
        "from crowdsms.cli import main\n"
        f"sys.exit(main({args!r}))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", program],
        cwd=tmp_path,
        env=clean_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert extra in line


def test_errors_speak_the_command_lines_words(sandbox: Sandbox, tmp_path: Path) -> None:
    journal = str(tmp_path / "job.sqlite")
    common = ["send", str(contacts(tmp_path, 12)), "--content", CONTENT, "--quiet"]
    common += ["--journal", journal, "--job-id", "j"]
    env = submail_env(sandbox, tmp_path)
    first = crowdsms(*common, "--chunk-size", "5", cwd=tmp_path, env=env)
    assert first.returncode == 0, first.stderr
    other = crowdsms(*common, "--chunk-size", "4", "--resume", cwd=tmp_path, env=env)
    assert other.returncode == 2
    (line,) = error_lines(other)
    assert "--chunk-size" in line
    assert "chunk_size" not in line
    too_big = crowdsms(
        "send",
        str(contacts(tmp_path, 3)),
        "--content",
        CONTENT,
        "--chunk-size",
        "500",
        cwd=tmp_path,
        env=env,
    )
    assert too_big.returncode == 2
    assert "--chunk-size" in too_big.stderr
