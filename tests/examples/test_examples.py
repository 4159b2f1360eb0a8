"""The runnable examples in examples/, each against the sandbox over real loopback HTTP."""

from __future__ import annotations

import csv
import importlib.util
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import httpx
import pytest

from crowdsms.sandbox import Sandbox, serve_asgi, serve_in_thread

EXAMPLES = Path(__file__).parents[2] / "examples"


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with serve_in_thread() as running:
        yield running


def _env(sandbox: Sandbox) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CROWDSMS_")}
    env["CROWDSMS_SUBMAIL_BASE_URL"] = sandbox.base_url("submail")
    return env


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.asyncio
async def test_web_app_awaits_sends_with_one_client(monkeypatch: pytest.MonkeyPatch) -> None:
    from crowdsms.sandbox import serve

    async with serve() as sandbox:
        monkeypatch.setenv("CROWDSMS_SUBMAIL_BASE_URL", sandbox.base_url("submail"))
        web = _load("web_app")
        async with serve_asgi(web.app) as url, httpx.AsyncClient(base_url=url) as http:
            ok = [
                await http.post("/verify", json={"phone": f"1380013800{i}", "code": "123456"})
                for i in range(3)
            ]
            bad = await http.post("/verify", json={"phone": "12345", "code": "1"})
        assert [r.status_code for r in ok] == [200, 200, 200]
        assert all(r.json()["send_id"] for r in ok)
        assert bad.status_code == 400
        assert bad.json()["field"] == "to"
        assert sandbox.ledger.phones(provider="submail") == [
            "13800138000",
            "13800138001",
            "13800138002",
        ]


def test_legacy_script_with_the_blocking_client(sandbox: Sandbox) -> None:
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / "legacy_script.py"), "13800138000", "13900139000"],
        env=_env(sandbox),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "2 goodbyes sent" in result.stdout
    phones = [phone or "" for phone in sandbox.ledger.phones(provider="submail")]
    assert sorted(phones) == sorted(["13800138000", "13900139000"] * 2)


def test_batch_job_runs_and_resumes_without_sending_twice(sandbox: Sandbox, tmp_path: Path) -> None:
    contacts = tmp_path / "contacts.csv"
    with contacts.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["phone", "name"])
        writer.writerows([f"1500013{i:04d}", f"n{i}"] for i in range(1000))
    args = [sys.executable, str(EXAMPLES / "batch_job.py"), str(contacts)]
    journal = str(tmp_path / "job.sqlite")
    first = subprocess.run(
        [*args, str(tmp_path / "a.jsonl"), journal, "nightly"],
        env=_env(sandbox),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert first.returncode == 0, first.stderr
    assert len(sandbox.ledger.phones(provider="submail")) == 1000
    again = subprocess.run(
        [*args, str(tmp_path / "b.jsonl"), journal, "nightly"],
        env=_env(sandbox),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert again.returncode == 0, again.stderr
    assert len(sandbox.ledger.phones(provider="submail")) == 1000  # nothing sent again
    lines = (tmp_path / "b.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["status"] for line in lines] == ["sent"] * 1000
