"""The sandbox in its own process, and the admin calls the benchmarks make between runs.

The server runs as ``python -m crowdsms.sandbox --port 0`` (a free port, read from the line
it prints), so that the client process's CPU time measures the client only. Between runs
the benchmarks empty its ledger (it keeps one entry per message: a million messages would
fill its memory) and top up the SUBMAIL balance (one million segments to start with, less
than a whole benchmark sends); a run that ran out of credit would get error answers, which
the answer checks would catch.
"""

from __future__ import annotations

import subprocess
from types import TracebackType

import httpx

from benchmarks.sandbox_rate import _start_sandbox
from crowdsms.sandbox.emulators.submail import SUBMAIL_APPID

__all__ = ["SandboxProcess"]

_BALANCE = 100_000_000
_ACCOUNT = {"provider": "submail", "account": SUBMAIL_APPID}


class SandboxProcess:
    """``python -m crowdsms.sandbox`` on a free loopback port, for the life of a ``with``."""

    def __init__(self) -> None:
        self._process: subprocess.Popen[str] | None = None
        self.host = ""
        self.port = 0
        self._admin: httpx.Client | None = None

    def __enter__(self) -> SandboxProcess:
        self._process, self.host, self.port = _start_sandbox()
        self._admin = httpx.Client(base_url=f"{self.url}/_sandbox", trust_env=False, timeout=60)
        self.reset()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._admin is not None:
            self._admin.close()
        process = self._process
        if process is not None:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            if process.stdout is not None:
                process.stdout.close()

    @property
    def url(self) -> str:
        """The sandbox's root URL."""
        return f"http://{self.host}:{self.port}"

    @property
    def pid(self) -> int:
        """The server's process id."""
        assert self._process is not None
        return self._process.pid

    @property
    def submail_url(self) -> str:
        """The base URL of the SUBMAIL emulator."""
        return f"{self.url}/submail"

    def _admin_client(self) -> httpx.Client:
        if self._admin is None:
            raise RuntimeError("the sandbox is not running")
        return self._admin

    def set_latency(self, seconds: float) -> None:
        """Make every provider request wait ``seconds`` before it is answered."""
        admin = self._admin_client()
        answer = admin.patch("/settings", json={"latency": seconds})
        answer.raise_for_status()
        if abs(float(answer.json()["latency"]) - seconds) > 1e-9:
            raise RuntimeError(f"the sandbox did not take latency={seconds}: {answer.text}")

    def submail_balance(self) -> int:
        """The SUBMAIL account's balance, in SMS segments (one per short message sent)."""
        answer = self._admin_client().get("/balance", params=_ACCOUNT)
        answer.raise_for_status()
        return int(answer.json()["balance"])

    def reset(self) -> None:
        """Empty the ledger and top the SUBMAIL balance up (between runs, not timed)."""
        admin = self._admin_client()
        admin.delete("/ledger").raise_for_status()
        missing = _BALANCE - self.submail_balance()
        if missing > 0:
            admin.post("/balance", json={**_ACCOUNT, "amount": missing}).raise_for_status()
