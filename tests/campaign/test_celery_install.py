"""What installing the shard task on a Celery app does in a worker process."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

_PROBE = textwrap.dedent(
    """
    import json, sys
    import celery, celery.signals
    from crowdsms.campaign.celery import install

    app = celery.Celery("probe", broker="memory://")
    install(app, store="redis://127.0.0.1:1/0")
    loaded = lambda: {
        name: name in sys.modules for name in ("aiohttp", "crowdsms._transport.aiohttp_lane")
    }
    before = loaded()
    celery.signals.worker_init.send(sender=None)
    print(json.dumps({"before": before, "after": loaded()}))
    """
)


@pytest.mark.aiohttp
def test_a_worker_loads_the_transport_when_it_starts_not_in_its_first_shard() -> None:
    result = subprocess.run(
        [sys.executable, "-c", _PROBE], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr[-2000:]
    loaded = json.loads(result.stdout.strip().splitlines()[-1])
    assert loaded["before"] == {"aiohttp": False, "crowdsms._transport.aiohttp_lane": False}
    assert loaded["after"] == {"aiohttp": True, "crowdsms._transport.aiohttp_lane": True}


_SETTINGS_PROBE = textwrap.dedent(
    """
    import json
    import celery
    from crowdsms.campaign.celery import _store_url, install

    app = celery.Celery("probe", broker="memory://")
    install(app, store="redis://:S3cretPassw0rd@cache.internal:6379/0")
    shown = json.dumps(app.conf.table(with_defaults=True), default=str) + app.bugreport()
    print(json.dumps({"shown": "S3cretPassw0rd" in shown, "used": _store_url(app, None)}))
    """
)


def test_the_store_url_given_to_install_stays_out_of_the_apps_settings() -> None:
    # Celery shows its settings (celery report, inspect conf), masking only names such as
    # *_PASSWORD: a password in the store's URL must not be among them.
    result = subprocess.run(
        [sys.executable, "-c", _SETTINGS_PROBE],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    found = json.loads(result.stdout.strip().splitlines()[-1])
    assert found == {"shown": False, "used": "redis://:S3cretPassw0rd@cache.internal:6379/0"}
