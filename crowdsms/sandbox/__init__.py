"""An emulator of the four providers over real HTTP, for tests, benchmarks and demos.

One server serves every provider under its own prefix, so each SDK client gets its own base
URL from the same sandbox::

    async with serve() as sandbox:
        client = AsyncSubmail(app_id=SUBMAIL_APPID, app_key=SUBMAIL_APPKEY,
                              base_url=sandbox.base_url("submail"))
        ...
        assert sandbox.ledger.phones() == [...]   # what was really sent, once each

=========== ====================================== ==========================================
provider    base URL                               endpoints
=========== ====================================== ==========================================
SUBMAIL     ``{url}/submail``                      ``sms/multisend``, ``sms/send``,
                                                   ``service/timestamp`` (also ``.json``,
                                                   ``.xml``, ``.yaml``)
SendCloud   ``{url}/sendcloud/smsapi``             ``send``, ``sendn``, ``sendx``,
                                                   ``timestamp/get``, ``sendContactListTask``,
                                                   ``queryContactListTask``
CrowdTask   ``{url}/crowdtask``                    ``task/batch``, ``api/task/batch``
paasw       ``{url}/paasw``                        ``api/token``, ``sms/send``,
                                                   ``sms/sendTemplate``, ``sms/deliver``,
                                                   ``sms/smsUp``, ``sms/balance``
admin       ``{url}/_sandbox``                     ``ledger``, ``settings``, ``faults``,
                                                   ``clock``, ``balance``, ``replies``, ...
=========== ====================================== ==========================================

The sandbox checks signatures with its own implementation of the providers' rules (not the
SDK's), enforces timestamp windows against its own clock (which tests can skew or advance),
token expiry and secret resets, request limits and error codes; answers per-recipient
results, partial success, fees and balances; records what it really sent in a
:class:`Ledger`; produces delivery reports, queued for pulling (paasw) and pushed to
webhooks; and injects seeded faults: 503, dropped connections (before or after processing),
429 with ``Retry-After``, slow answers. Needs the ``sandbox`` extra (Starlette, uvicorn).
"""

from __future__ import annotations

from crowdsms.sandbox._app import create_app, sandbox_of
from crowdsms.sandbox._control import PREFIXES, Sandbox
from crowdsms.sandbox._drop import DropUnsupportedError
from crowdsms.sandbox._faults import FaultInjector, FaultKind, FaultSettings
from crowdsms.sandbox._ledger import Ledger, LedgerEntry
from crowdsms.sandbox._paasw import CODES as PAASW_CODES
from crowdsms.sandbox._server import run, serve, serve_asgi, serve_in_thread
from crowdsms.sandbox._settings import (
    CROWDTASK_ACCESS_ID,
    CROWDTASK_SECRET,
    PAASW_APP_ID,
    PAASW_SECRET,
    PROVIDERS,
    SENDCLOUD_CONTACT_LISTS,
    SENDCLOUD_SMS_KEY,
    SENDCLOUD_SMS_USER,
    SENDCLOUD_TEMPLATES,
    SENDCLOUD_WEBHOOK_KEY,
    SUBMAIL_APPID,
    SUBMAIL_APPKEY,
    SUBMAIL_SUBHOOK_KEY,
    CrowdTaskSettings,
    PaaswSettings,
    SandboxSettings,
    SendCloudSettings,
    SubmailSettings,
)
from crowdsms.sandbox._state import DeliveryReport, Reply
from crowdsms.sandbox._webhooks import Push, PushRecord

__all__ = [
    "CROWDTASK_ACCESS_ID",
    "CROWDTASK_SECRET",
    "PAASW_APP_ID",
    "PAASW_CODES",
    "PAASW_SECRET",
    "PREFIXES",
    "PROVIDERS",
    "SENDCLOUD_CONTACT_LISTS",
    "SENDCLOUD_SMS_KEY",
    "SENDCLOUD_SMS_USER",
    "SENDCLOUD_TEMPLATES",
    "SENDCLOUD_WEBHOOK_KEY",
    "SUBMAIL_APPID",
    "SUBMAIL_APPKEY",
    "SUBMAIL_SUBHOOK_KEY",
    "CrowdTaskSettings",
    "DeliveryReport",
    "DropUnsupportedError",
    "FaultInjector",
    "FaultKind",
    "FaultSettings",
    "Ledger",
    "LedgerEntry",
    "PaaswSettings",
    "Push",
    "PushRecord",
    "Reply",
    "Sandbox",
    "SandboxSettings",
    "SendCloudSettings",
    "SubmailSettings",
    "create_app",
    "run",
    "sandbox_of",
    "serve",
    "serve_asgi",
    "serve_in_thread",
]
