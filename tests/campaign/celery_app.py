"""The Celery app of the campaign tests' worker processes (not collected: no tests here).

``celery -A tests.campaign.celery_app worker ...`` builds it from the environment that
``test_celery.py`` gives each worker:

* ``CROWDSMS_TEST_BROKER``: the broker's Redis URL;
* ``CROWDSMS_TEST_VISIBILITY_TIMEOUT``: seconds after which the broker hands an unacknowledged
  shard to another worker (it is checked every second, not every 100 s as by default);
* ``CROWDSMS_TEST_PROBES``: a Redis URL where each pool process records the shard it runs
  (:data:`RUNNING`, :data:`RUNS`) and the runs retried (:data:`RETRIES`), so that a test can
  pick a process in the middle of a shard, see a shard run by two processes at once, or see
  a run fail and be retried;
* ``CROWDSMS_CAMPAIGN_STORE`` and ``CROWDSMS_SUBMAIL_*``: read by crowdsms itself, as in
  production (the store by the task, the credentials and the sandbox's URL by the shard).
"""

from __future__ import annotations

import os
from typing import Any

import redis
from celery import Celery, signals

from crowdsms.campaign.celery import install

BROKER_ENV = "CROWDSMS_TEST_BROKER"
VISIBILITY_ENV = "CROWDSMS_TEST_VISIBILITY_TIMEOUT"
PROBES_ENV = "CROWDSMS_TEST_PROBES"

RUNNING = "crowdsms-tests:running"
"""Hash: pid of a pool process -> ``campaign/shard`` it is running now."""
RUNS = "crowdsms-tests:runs"
"""List: ``campaign/shard pid`` of every run started (a delivery of a shard)."""
RETRIES = "crowdsms-tests:retries"
"""List: ``campaign/shard reason`` of every run that failed and was retried."""


def make_app(broker: str, visibility_timeout: float) -> Celery:
    """The tests' app: one shard at a time per process, acknowledged once it is done."""
    app = Celery("crowdsms-tests", broker=broker)
    app.conf.update(
        broker_transport_options={
            "visibility_timeout": visibility_timeout,
            "unacked_restore_interval": 1,
            "unacked_restore_throttle": 1,
        },
        broker_connection_retry_on_startup=True,
        worker_prefetch_multiplier=1,
        task_acks_late=True,
    )
    install(app)  # the store comes from CROWDSMS_CAMPAIGN_STORE
    return app


_app: Celery | None = None


def __getattr__(name: str) -> Any:
    """``app``, built from the environment when the worker asks for it (the tests import the
    names above without building it)."""
    global _app
    if name != "app":
        raise AttributeError(name)
    if _app is None:
        _app = make_app(os.environ[BROKER_ENV], float(os.environ.get(VISIBILITY_ENV, "3600")))
    return _app


_probes: redis.Redis | None = None


def _probe_client() -> redis.Redis | None:
    global _probes
    url = os.environ.get(PROBES_ENV)
    if url and _probes is None:
        _probes = redis.Redis.from_url(url)
    return _probes


@signals.task_prerun.connect
def _running(task_id: str, task: Any, args: Any, **_: Any) -> None:
    client = _probe_client()
    if client is not None and args:
        name = f"{args[0]}/{args[1]}"
        client.hset(RUNNING, str(os.getpid()), name)
        client.rpush(RUNS, f"{name} {os.getpid()}")


@signals.task_postrun.connect
def _finished(task_id: str, task: Any, **_: Any) -> None:
    client = _probe_client()
    if client is not None:
        client.hdel(RUNNING, str(os.getpid()))


@signals.task_retry.connect
def _retried(request: Any, reason: Any, **_: Any) -> None:
    client = _probe_client()
    if client is not None:
        client.rpush(RETRIES, f"{request.args[0]}/{request.args[1]} {reason}")
