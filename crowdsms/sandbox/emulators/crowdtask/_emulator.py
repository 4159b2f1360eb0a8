"""CrowdTask: ``task/batch`` (and ``api/task/batch``), a multipart upload of a CVS file.

Served under ``/crowdtask``. ``accessid``, ``localtime`` and ``signature`` are read from the
form fields or, failing that, from headers of the same names. The signature is
``hex(HMAC-MD5(key=secret, msg=action_uri + "&" + localtime))`` with ``localtime`` in Unix
milliseconds (a setting); the sandbox accepts as ``action_uri`` the path below
``/crowdtask`` (``/api/task/batch``, what the real server sees) or the full path as sent.

Success: ``{"status": "success", "result": {"tasknum", "batchSN", "taskids"}}``. Failures:
HTTP 4xx and ``{"status": "error", "reason": ...}``; a reason about the time always names
``localtime``, other reasons never do. At most ``max_rows`` (100) rows become tasks: further
rows are dropped silently, as the real service does.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any, ClassVar, Final

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from crowdsms.sandbox._http import MalformedBody, Params, json_response, read_params
from crowdsms.sandbox._ledger import LedgerEntry
from crowdsms.sandbox._state import SandboxState
from crowdsms.sandbox.emulators.crowdtask._settings import CrowdTaskSettings

__all__ = ["CrowdTaskEmulator", "crowdtask_signature", "parse_cvs"]

PROVIDER: Final = "crowdtask"
_PREFIX: Final = "/crowdtask"


def crowdtask_signature(action_uri: str, localtime: str, secret: str) -> str:
    """CrowdTask's signature of a request to ``action_uri`` at ``localtime``."""
    message = f"{action_uri}&{localtime}".encode()
    return hmac.new(secret.encode(), message, hashlib.md5).hexdigest()


class CvsError(ValueError):
    """The uploaded CVS file cannot be read."""


def _split_line(line: str, number: int) -> list[str]:
    values: list[str] = []
    index, length = 0, len(line)
    while index < length:
        if line[index] in " \t":
            index += 1
            continue
        chars: list[str] = []
        if line[index] == '"':
            index += 1
            while True:
                if index >= length:
                    raise CvsError(f"line {number}: a quoted value is not closed")
                char = line[index]
                if char == "\\" and index + 1 < length and line[index + 1] == '"':
                    chars.append('"')
                    index += 2
                elif char == '"':
                    index += 1
                    break
                else:
                    chars.append(char)
                    index += 1
        else:
            while index < length and line[index] not in " \t":
                if line.startswith('\\"', index):
                    chars.append('"')
                    index += 2
                else:
                    chars.append(line[index])
                    index += 1
        values.append("".join(chars))
    return values


def parse_cvs(text: str) -> tuple[list[str], list[list[str]]]:
    """The variable names and the rows of a CVS file; raise :class:`CvsError` if malformed.

    Values are separated by spaces or tabs; a value with spaces is wrapped in double quotes,
    and ``\\"`` stands for a literal quote. Blank lines are ignored.
    """
    lines = [
        (number, line)
        for number, line in enumerate(text.lstrip("\ufeff").splitlines(), start=1)
        if line.strip()
    ]
    if not lines:
        raise CvsError("the file is empty")
    names = _split_line(lines[0][1], lines[0][0])
    rows = []
    for number, line in lines[1:]:
        values = _split_line(line, number)
        if len(values) != len(names):
            raise CvsError(
                f"line {number} has {len(values)} values but the first line names {len(names)}"
            )
        rows.append(values)
    if not rows:
        raise CvsError("the file has no rows after the line of variable names")
    return names, rows


def _error(status_code: int, reason: str) -> Response:
    return json_response({"status": "error", "reason": reason}, status_code)


class _Rejected(Exception):
    def __init__(self, status_code: int, reason: str) -> None:
        super().__init__(reason)
        self.status_code = status_code
        self.reason = reason


class CrowdTaskEmulator:
    """The CrowdTask endpoints of one sandbox."""

    provider: ClassVar[str] = PROVIDER
    settings_class: ClassVar[type[CrowdTaskSettings]] = CrowdTaskSettings

    def __init__(self, state: SandboxState) -> None:
        self.state = state

    @property
    def settings(self) -> CrowdTaskSettings:
        """This emulator's current settings."""
        settings: CrowdTaskSettings = self.state.settings.provider(PROVIDER)
        return settings

    def accounts(self) -> list[str]:
        """The configured accounts, the default first."""
        return list(self.settings.keys)

    def client_credentials(self, account: str) -> dict[str, str]:
        """The SDK client's credential keywords for ``account``."""
        return {"access_id": account, "access_secret_key": self.settings.keys[account].reveal()}

    def routes(self) -> list[BaseRoute]:
        """The routes, relative to ``/crowdtask``."""
        return [
            Route("/task/batch", self.batch, methods=["POST"]),
            Route("/api/task/batch", self.batch, methods=["POST"]),
        ]

    async def batch(self, request: Request) -> Response:
        """``task/batch``: one task per row of the uploaded CVS file."""
        try:
            try:
                params = await read_params(request)
            except MalformedBody as exc:
                raise _Rejected(400, f"the request body cannot be read: {exc}") from None
            access_id = self._authenticate(request, params)
            result = self._batch(access_id, params)
        except _Rejected as rejected:
            return _error(rejected.status_code, rejected.reason)
        return json_response({"status": "success", "result": result})

    def _credential(self, request: Request, params: Params, name: str) -> str:
        value = params.fields.get(name)
        if value is None:
            value = request.headers.get(name, "")
        return value

    def _authenticate(self, request: Request, params: Params) -> str:
        access_id = self._credential(request, params, "accessid")
        localtime = self._credential(request, params, "localtime")
        signature = self._credential(request, params, "signature")
        keys = self.settings.keys
        if not access_id or access_id not in keys:
            raise _Rejected(401, "invalid accessid")
        if not signature:
            raise _Rejected(401, "the signature is missing")
        if not localtime.isdigit():
            # Not a clock problem: the reason must not name the time field (see the docstring).
            raise _Rejected(401, "the request carries no valid time field (a number is required)")
        settings = self.settings
        scale = 1000.0 if settings.time_unit == "ms" else 1.0
        if abs(int(localtime) / scale - self.state.clock.now()) > settings.window:
            raise _Rejected(
                401,
                f"localtime differs from the server time by more than {settings.window:g} s",
            )
        secret = keys[access_id].reveal()
        full_path = request.url.path
        relative = full_path[len(_PREFIX) :] if full_path.startswith(_PREFIX) else full_path
        for action_uri in (relative, full_path):
            expected = crowdtask_signature(action_uri, localtime, secret)
            if hmac.compare_digest(signature.encode(), expected.encode()):
                return access_id
        raise _Rejected(401, "the signature does not match")

    def _batch(self, access_id: str, params: Params) -> dict[str, Any]:
        project = params.get("projectid")
        if not project.isdigit() or int(project) <= 0:
            raise _Rejected(400, "projectid is missing or not a positive integer")
        upload = params.files.get("inputCVS")
        data = upload.data if upload is not None else params.get("inputCVS").encode()
        if not data:
            raise _Rejected(400, "the inputCVS file is missing")
        try:
            names, rows = parse_cvs(data.decode("utf-8"))
        except UnicodeDecodeError:
            raise _Rejected(400, "the inputCVS file is not UTF-8") from None
        except CvsError as exc:
            raise _Rejected(400, f"the inputCVS file is malformed: {exc}") from None
        rows = rows[: self.settings.max_rows]
        batch = f"SB{self.state.clock.now_ms()}{self.state.next_number():06d}"
        entries = [
            LedgerEntry(
                provider=PROVIDER,
                endpoint="task/batch",
                account=access_id,
                phone=None,
                content=None,
                template=project,
                vars=dict(zip(names, row, strict=True)),
                message_id=str(self.state.next_number()),
                fee=0,
                time=self.state.clock.now(),
                request_id=batch,
            )
            for row in rows
        ]
        for entry in entries:
            self.state.ledger.record(entry)
        return {
            "tasknum": len(entries),
            "batchSN": batch,
            "taskids": [int(entry.message_id) for entry in entries],
        }
