"""The delivery reports the sandbox pushed (not collected: no tests here)."""

from __future__ import annotations

import urllib.parse

from crowdsms.sandbox import Sandbox
from tests.waiting import wait_until

__all__ = ["all_reports_pushed", "delivery_reports", "reports_pushed", "reports_still_missing"]


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


def reports_still_missing(sandbox: Sandbox) -> str:
    """What :func:`all_reports_pushed` still waits for, for a failure message."""
    return (
        f"{len(delivery_reports(sandbox))} of {len(sandbox.ledger.entries())} delivery reports "
        f"pushed; {sandbox.state.webhooks.pending} pushes queued"
    )


async def reports_pushed(sandbox: Sandbox) -> list[dict[str, str]]:
    """Every delivery report, once the sandbox has pushed one per message it sent.

    Waits as long as the pushes progress (they go one at a time, and a loaded machine makes
    them slow); fails if they stall, and at once if one was given up.
    """
    await wait_until(
        lambda: all_reports_pushed(sandbox),
        missing=lambda: reports_still_missing(sandbox),
        progress=lambda: len(sandbox.webhook_records),
        poll=0.05,
    )
    return delivery_reports(sandbox)
