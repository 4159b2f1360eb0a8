"""Without an SDK, or without OpenTelemetry at all, sending works and records nothing.

The global providers are OpenTelemetry's proxies until the application sets real ones, which
it may do only once per process: the tests that install or hide OpenTelemetry's pieces run
in a subprocess each.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from opentelemetry import trace

from crowdsms import telemetry
from crowdsms.batch import BatchSender
from crowdsms.errors import ConfigurationError
from crowdsms.outcomes import Recipient
from crowdsms.sandbox import FaultKind, Sandbox
from crowdsms.telemetry._call import NO_CALL, start_call
from crowdsms.telemetry._state import STATE

ROOT = Path(__file__).resolve().parents[2]
CONTENT = "【测试】@var(name)您好"


def people(count: int) -> list[Recipient]:
    return [Recipient(f"1370013{n:04d}", {"name": f"n{n}"}) for n in range(count)]


@pytest.mark.asyncio
async def test_with_the_api_and_no_sdk_nothing_breaks(sandbox: Sandbox) -> None:
    # This process never sets global providers: crowdsms's spans are OpenTelemetry's no-op.
    assert isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider)
    assert STATE.active
    sandbox.force_fault(FaultKind.REJECT, provider="submail")
    async with sandbox.client("submail") as client:
        sender = BatchSender(client.sms.multisend_chunks(content=CONTENT), chunk_size=2, rate=1000)
        report = await sender.send(people(5), job_id="no-sdk")
        await client.sms.multisend(content=CONTENT, recipients=people(1))
    assert report.sent == 5
    assert not trace.get_current_span().is_recording()
    # Nothing would record: the probes are the shared no-op ones, as without OpenTelemetry.
    assert STATE.otel() is None
    assert start_call("demo", "https://example.test", Request()) is NO_CALL


class Request:
    method = "POST"
    path = "a/b"
    operation = "demo.op"


def run(*parts: str) -> dict[str, object]:
    """Run the script of these parts in a fresh interpreter; the JSON it prints last."""
    script = "\n".join(textwrap.dedent(part) for part in parts)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


SEND = """
    import anyio
    from crowdsms.batch import BatchSender
    from crowdsms.outcomes import Recipient
    from crowdsms.sandbox import serve

    async def send(count):
        async with serve() as sandbox, sandbox.client("submail") as client:
            chunks = client.sms.multisend_chunks(content="【测试】@var(name)您好")
            people = [Recipient(f"1360013{n:04d}", {"name": "x"}) for n in range(count)]
            report = await BatchSender(chunks, chunk_size=2).send(people)
            return report.sent
"""


def test_without_opentelemetry_installed_hooks_still_work() -> None:
    result = run(
        """
        import sys

        class Hidden:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] == "opentelemetry":
                    raise ModuleNotFoundError(f"No module named {name!r}")
                return None

        sys.meta_path.insert(0, Hidden())
        """,
        SEND,
        """
        import json
        from crowdsms import telemetry
        from crowdsms.errors import ConfigurationError
        from crowdsms.telemetry._state import STATE

        active_before = STATE.active
        try:
            telemetry.use_opentelemetry()
            refused = False
        except ConfigurationError:
            refused = True
        chunks = []
        telemetry.add_hook(on_chunk=chunks.append)
        sent = anyio.run(send, 5)
        print(json.dumps({
            "installed": telemetry.OPENTELEMETRY_INSTALLED,
            "active_before": active_before,
            "refused": refused,
            "sent": sent,
            "chunks": sorted(chunk.sent for chunk in chunks),
            "imported": sorted(m for m in sys.modules if m.startswith("opentelemetry")),
        }))
        """,
    )
    assert result == {
        "installed": False,
        "active_before": False,
        "refused": True,
        "sent": 5,
        "chunks": [1, 2, 2],
        "imported": [],
    }


def test_global_providers_set_after_the_first_call_are_used() -> None:
    result = run(
        SEND,
        """
        import json
        from importlib import metadata
        from opentelemetry import metrics, trace
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.metrics.export import InMemoryMetricReader
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

        before = anyio.run(send, 2)  # crowdsms's tracer and meter are the global proxies
        exporter = InMemorySpanExporter()
        tracer_provider = TracerProvider()
        tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
        trace.set_tracer_provider(tracer_provider)
        reader = InMemoryMetricReader()
        metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))
        after = anyio.run(send, 4)
        spans = exporter.get_finished_spans()
        names = sorted(span.name for span in spans)
        scopes = {(s.instrumentation_scope.name, s.instrumentation_scope.version) for s in spans}
        points = [
            point.attributes["crowdsms.outcome.status"]
            for resource in reader.get_metrics_data().resource_metrics
            for scope in resource.scope_metrics
            for metric in scope.metrics if metric.name == "crowdsms.recipients"
            for point in metric.data.data_points
        ]
        print(json.dumps({
            "sent": [before, after],
            "names": names,
            "scopes": sorted(scopes),
            "version": metadata.version("crowdsms"),
            "points": points,
        }))
        """,
    )
    chunk, job, call = "crowdsms.batch.chunk", "crowdsms.batch.job", "submail.sms.multisend"
    assert result["sent"] == [2, 4]
    assert result["names"] == [chunk, chunk, job, call, call]  # the second job only
    assert result["scopes"] == [["crowdsms", result["version"]]]
    assert result["points"] == ["sent"]


def test_use_opentelemetry_without_it_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(telemetry, "OPENTELEMETRY_INSTALLED", False)
    with pytest.raises(ConfigurationError, match="pip install 'crowdsms\\[otel\\]'"):
        telemetry.use_opentelemetry()
    assert STATE.otel_enabled
