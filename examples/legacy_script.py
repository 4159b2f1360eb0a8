"""A legacy synchronous script (cron job, Django view, thread pool) using the blocking client.

No ``async`` anywhere: ``Submail`` runs the async client on its own event loop (each call
runs it in the calling thread) and returns plain values. One client is shared by all
threads and closed at the end.

    python examples/legacy_script.py 13800138000 13900139000
"""

from __future__ import annotations

import os
import sys
from concurrent.futures import ThreadPoolExecutor

from crowdsms import Recipient, Submail


def main(phones: list[str]) -> int:
    with Submail(
        app_id=os.environ.get("CROWDSMS_SUBMAIL_APP_ID", "88000"),
        app_key=os.environ.get("CROWDSMS_SUBMAIL_APP_KEY", "sandbox-appkey-5f0c2e6b9a1d4c37"),
        base_url=os.environ.get("CROWDSMS_SUBMAIL_BASE_URL", "http://127.0.0.1:8080/submail"),
    ) as submail:
        # one request for everybody ...
        result = submail.sms.multisend(
            content="【SANDBOX】@var(name)，您好",
            recipients=[Recipient(phone, {"name": f"用户{i}"}) for i, phone in enumerate(phones)],
        )
        for item in result.items:
            print(item.phone, item.status, item.send_id or item.code)
        # ... and the same client shared by a thread pool
        with ThreadPoolExecutor(max_workers=4) as pool:
            sent = list(
                pool.map(
                    lambda p: submail.sms.send(to=p, content="【SANDBOX】再见").send_id, phones
                )
            )
        print(f"{len(sent)} goodbyes sent")
    return 0 if result.all_sent else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
