"""The delivery reports the sandbox pushed (not collected: no tests here)."""

from __future__ import annotations

import urllib.parse

from crowdsms.sandbox import Sandbox

__all__ = ["all_reports_pushed", "delivery_reports"]


def delivery_reports(sandbox: Sandbox) -> list[dict[str, str]]:
    """The fields of every SUBHOOK delivery report pushed so far (``delivered`` or
    ``dropped``; not the ``request`` events the sandbox pushes first)."""
    found = []
    for record in sandbox.webhook_records:
        if record.push.kind != "report":
            continue
        assert record.delivered, record
        fields = dict(urllib.parse.parse_qsl(record.push.body.decode()))
        if fields["events"] in ("delivered", "dropped"):
            found.append(fields)
    return found


def all_reports_pushed(sandbox: Sandbox) -> bool:
    """Whether every message in the ledger has had its delivery report pushed."""
    idle = sandbox.state.webhooks.pending == 0
    return idle and len(delivery_reports(sandbox)) == len(sandbox.ledger.entries())
