"""A campaign run by Celery workers: add crowdsms to an existing Celery app in a few lines.

Run it with a Redis server (as broker and, with AOF and ``appendfsync always``, as the
campaign store) and the provider's credentials in the environment::

    celery -A examples.celery_campaign worker            # as many as you like, anywhere
    python examples/celery_campaign.py contacts.csv      # plan the campaign, queue its shards
    crowdsms campaign status promo-2026-12 --store redis://127.0.0.1:6379/1

The broker and the store default to ``$CELERY_BROKER`` and ``$CROWDSMS_CAMPAIGN_STORE``.
"""

from __future__ import annotations

import os
import sys

from celery import Celery

from crowdsms.campaign.celery import install, start
from crowdsms.providers._spec import MessageOptions

BROKER = os.environ.get("CELERY_BROKER", "redis://127.0.0.1:6379/0")
STORE = os.environ.get("CROWDSMS_CAMPAIGN_STORE", "redis://127.0.0.1:6379/1")

# Your existing app...
app = Celery("shop", broker=BROKER)
app.conf.update(worker_prefetch_multiplier=1, task_acks_late=True)
# ...and the one line that gives it crowdsms's shard task.
install(app, store=STORE)


def main(path: str) -> None:
    """Plan the campaign and queue its shards (again: only the shards not done)."""
    campaign_id = start(
        app,
        campaign_id="promo-2026-12",
        provider="submail",
        message=MessageOptions(content="【小店】@var(name)，新品到货", columns=("name",)),
        path=os.path.abspath(path),
        rate=200,  # recipients per second, every worker together
    )
    print(f"campaign {campaign_id} queued; follow it with crowdsms campaign status")


if __name__ == "__main__":
    main(sys.argv[1])
