"""``python -m crowdsms.sandbox``: what it says on start, on a taken port, and on Ctrl-C."""

from __future__ import annotations

import errno
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from typing import IO, Any

import httpx
import pytest

from crowdsms.sandbox import _cli
from crowdsms.sandbox._app import create_app, sandbox_of
from crowdsms.sandbox._control import Sandbox
from crowdsms.sandbox._server import ListenError
from crowdsms.sandbox._settings import SandboxSettings

FAKE_URL = "http://127.0.0.1:8123"


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A loopback port another socket listens on."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen(1)
        yield holder.getsockname()[1]


def _in_use(port: int) -> str:
    return (
        f"crowdsms sandbox: error: 127.0.0.1:{port} is in use; "
        "pass --port 0 for a free port, or another port\n"
    )


# --- a taken port -------------------------------------------------------------------------


def test_a_taken_port_is_one_line_and_exit_status_2(
    taken_port: int, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _cli.main(["--port", str(taken_port)]) == 2
    out, err = capsys.readouterr()
    assert err == _in_use(taken_port)
    assert out == ""


def test_python_m_crowdsms_sandbox_on_a_taken_port_exits_2_at_once(taken_port: int) -> None:
    command = [sys.executable, "-m", "crowdsms.sandbox", "--port", str(taken_port)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2
    assert done.stderr == _in_use(taken_port)
    assert done.stdout == ""


def test_crowdsms_sandbox_on_a_taken_port_exits_2(
    taken_port: int, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("click")
    from crowdsms.cli import main

    assert main(["sandbox", "--port", str(taken_port)]) == 2
    assert capsys.readouterr().err == _in_use(taken_port)


def _listen_error(host: str, port: int, cause: OSError) -> ListenError:
    try:
        raise ListenError(host, port, cause) from cause
    except ListenError as error:
        return error


@pytest.mark.parametrize(
    ("host", "port", "cause", "words"),
    [
        (
            "::1",
            8080,
            OSError(errno.EADDRINUSE, "Address already in use"),
            "[::1]:8080 is in use; pass --port 0 for a free port, or another port",
        ),
        (
            "127.0.0.1",
            80,
            PermissionError(errno.EACCES, "Permission denied"),
            "127.0.0.1:80: ports below 1024 need privileges; pass --port 0",
        ),
        (
            "10.9.9.9",
            8080,
            OSError(errno.EADDRNOTAVAIL, "Cannot assign requested address"),
            "cannot listen on 10.9.9.9:8080 (Cannot assign requested address); pass --host",
        ),
        (
            "no.such.host",
            8080,
            socket.gaierror(-2, "Name or service not known"),
            "cannot listen on no.such.host:8080 (Name or service not known); pass --host",
        ),
    ],
)
def test_each_listen_failure_says_what_to_do(
    host: str, port: int, cause: OSError, words: str
) -> None:
    error = _listen_error(host, port, cause)
    assert isinstance(error, OSError)
    assert error.errno == cause.errno
    assert _cli._cannot_listen(error).startswith(words)


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["--port", "70000"], "a port is a number from 0 to 65535, not '70000'"),
        (["--fault", "drop=lots"], "--fault drop=lots: the rate must be a number from 0 to 1"),
        (["--fault", "drpo=0.1"], "no fault kind 'drpo' (did you mean 'drop'?)"),
        (["--fault", "drop"], "--fault wants NAME=VALUE, not 'drop'"),
        (["--webhook", "nobody=http://x"], "the sandbox has no provider 'nobody'"),
        (["--reply-webhook", "pasw=http://x"], "no provider 'pasw' (did you mean 'paasw'?)"),
    ],
)
def test_bad_arguments_are_one_error_line_and_exit_status_2(
    argv: list[str],
    words: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    def run(*args: Any, **kwargs: Any) -> None:
        pytest.fail(f"{argv} should have been refused, not served")

    monkeypatch.setattr(_cli, "run", run)
    with pytest.raises(SystemExit) as exited:
        raise SystemExit(_cli.main(argv))
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    last = err.strip().splitlines()[-1]
    assert last.startswith("crowdsms sandbox: error: ")
    assert words in last


# --- what it says on start, and on Ctrl-C --------------------------------------------------


def _fake_run(served: list[Sandbox]) -> Callable[..., None]:
    """A ``run`` that announces a sandbox without serving it, then meets Ctrl-C."""

    def run(
        host: str,
        port: int,
        settings: SandboxSettings,
        *,
        log_level: str,
        ready: Callable[[Sandbox], None],
    ) -> None:
        sandbox = sandbox_of(create_app(settings))
        sandbox._attach(FAKE_URL)
        served.append(sandbox)
        ready(sandbox)
        raise KeyboardInterrupt

    return run


def _announced(
    argv: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> tuple[list[str], Sandbox]:
    served: list[Sandbox] = []
    monkeypatch.setattr(_cli, "run", _fake_run(served))
    assert _cli.main(argv) == 0
    out, err = capsys.readouterr()
    assert err == ""
    assert out.count("crowdsms sandbox stopped") == 1
    assert out.endswith("crowdsms sandbox stopped\n")
    return out.splitlines(), served[0]


def _row(lines: list[str], label: str) -> list[str]:
    """The values printed under ``label`` (its line and the indented lines after it)."""
    start = next(i for i, line in enumerate(lines) if line.split()[:1] == [label])
    values = [lines[start].split(None, 1)[1]]
    for line in lines[start + 1 :]:
        if not line.startswith("  " + " " * 11) or not line.strip():
            break
        values.append(line.strip())
    return values


def test_start_shows_urls_credentials_and_that_nothing_is_injected(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    lines, sandbox = _announced(["--port", "0"], monkeypatch, capsys)
    assert lines[0] == f"crowdsms sandbox listening on {FAKE_URL}"
    for provider in sandbox.emulators:
        values = _row(lines, provider)
        assert values[0] == sandbox.base_url(provider)
        assert all(
            f"{key}={value}" in values[1] for key, value in sandbox.credentials(provider).items()
        )
    assert _row(lines, "latency") == ["none"]
    assert _row(lines, "faults") == ["none"]
    assert _row(lines, "webhooks")[0].startswith("none")
    assert _row(lines, "admin")[0].split()[0] == f"{FAKE_URL}/_sandbox"
    assert not any(line.split()[:1] in (["clock"], ["failures"]) for line in lines)


def test_start_shows_the_latency_faults_and_webhooks_in_effect(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [
        "--latency", "0.25",
        "--fault", "drop=0.1",
        "--fault", "rate_limit=0.05",
        "--fault-seed", "7",
        "--retry-after", "3",
        "--webhook", "paasw=http://hooks.test/paasw",
        "--webhook", "submail=http://hooks.test/submail",
        "--reply-webhook", "submail=http://hooks.test/mo",
        "--delivery-failure-rate", "0.2",
        "--clock-offset", "-30",
    ]  # fmt: skip
    lines, _ = _announced(argv, monkeypatch, capsys)
    assert _row(lines, "latency") == ["0.25 s added to each provider request"]
    assert _row(lines, "faults") == [
        "drop=0.1, rate_limit=0.05 (seed 7; 429 answers say Retry-After: 3)"
    ]
    assert sorted(_row(lines, "webhooks")) == [
        "paasw reports and replies -> http://hooks.test/paasw",
        "submail replies -> http://hooks.test/mo",
        "submail reports -> http://hooks.test/submail",
    ]
    assert _row(lines, "failures") == ["0.2 of delivery reports say failed"]
    assert _row(lines, "clock") == ["-30 s from the wall clock"]
    assert _row(lines, "admin")[0].startswith(f"{FAKE_URL}/_sandbox ")


def test_ctrl_c_before_the_server_starts_still_stops_cleanly(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def interrupted(*args: Any, **kwargs: Any) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(_cli, "run", interrupted)
    assert _cli.main(["--port", "0"]) == 0
    assert capsys.readouterr() == ("crowdsms sandbox stopped\n", "")


def _read_lines(stream: IO[str], lines: queue.Queue[str]) -> None:
    for line in stream:
        lines.put(line)
    lines.put("")  # the end


def test_the_served_sandbox_announces_its_admin_url_and_stops_once_on_ctrl_c() -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    command = [
        sys.executable, "-m", "crowdsms.sandbox", "--port", "0", "--log-level", "warning",
        "--latency", "0.01", "--fault", "slow=0.5",
    ]  # fmt: skip
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    try:
        assert process.stdout is not None
        lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=_read_lines, args=(process.stdout, lines), daemon=True).start()
        seen: list[str] = []
        while not seen or not seen[-1].startswith("  admin"):
            seen.append(lines.get(timeout=30))
            assert seen[-1], f"the sandbox ended early: {seen}"
        admin = seen[-1].split()[1]
        assert httpx.get(admin + "/health", timeout=5).json() == {"status": "ok"}
        assert _row([line.rstrip("\n") for line in seen], "faults")[0].startswith("slow=0.5")
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=15) == 0
        rest: list[str] = []
        while not rest or rest[-1]:
            rest.append(lines.get(timeout=15))
        assert "".join(rest).count("crowdsms sandbox stopped") == 1
        assert process.stderr is not None
        assert "Traceback" not in process.stderr.read()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=5)
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()
