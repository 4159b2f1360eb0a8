"""Every endpoint of every provider through its blocking client, against respx."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import textwrap
import threading
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs

import httpx
import pytest
import respx

from crowdsms import CrowdTask, OutcomeStatus, Paasw, Recipient, SendCloud, Submail
from crowdsms.errors import ProviderError

SUBMAIL = "https://submail.test"
SENDCLOUD = "https://sendcloud.test/smsapi"
CROWDTASK = "https://crowdtask.test"
PAASW = "https://paasw.test"
KEY = "blocking-secret-key-1234"


def _form(request: httpx.Request) -> dict[str, str]:
    if request.headers.get("content-type", "").startswith("application/json"):
        return {k: str(v) for k, v in json.loads(request.content).items()}
    return {k: v[0] for k, v in parse_qs(request.content.decode()).items()}


def test_submail_every_endpoint() -> None:
    with respx.mock(base_url=SUBMAIL, assert_all_called=True) as mock:
        send = mock.post("/sms/send.json").respond(
            json={"status": "success", "send_id": "s0", "fee": 1, "sms_credits": "99"}
        )
        multi = mock.post("/sms/multisend.json").respond(
            json=[
                {"status": "success", "to": "13800138000", "send_id": "s1", "fee": 1},
                {"status": "error", "code": 252, "msg": "bad number"},
            ]
        )
        mock.get("/service/timestamp.json").respond(json={"timestamp": 1_700_000_000})
        with Submail(app_id="10000", app_key=KEY, base_url=SUBMAIL) as client:
            sent = client.sms.send(to="+86 138 0013 8000", content="【签名】您好")
            result = client.sms.multisend(
                content="【签名】您好 @var(name)",
                recipients=[
                    Recipient("13800138000", {"name": "甲"}),
                    Recipient("13900139000", {"name": "乙"}),
                ],
            )
            assert client.service.timestamp() == 1_700_000_000
        assert sent.send_id == "s0"
        assert _form(send.calls.last.request)["to"] == "13800138000"
        statuses = [o.status for o in result.outcomes]
        assert statuses == [OutcomeStatus.SENT, OutcomeStatus.FAILED]
        assert json.loads(_form(multi.calls.last.request)["multi"])[1]["to"] == "13900139000"


def test_sendcloud_every_endpoint() -> None:
    task = {
        "taskId": 472,
        "contactListName": "test",
        "taskName": "t",
        "senderName": "s",
        "templateId": 9,
        "memberCount": 4,
        "status": "等待执行",
        "createTime": "2017-05-19 14:22:57",
        "endTime": "",
    }
    envelope = {"result": True, "statusCode": 200, "message": "ok"}
    with respx.mock(base_url=SENDCLOUD, assert_all_called=True) as mock:
        mock.post("/send").respond(
            json={**envelope, "info": {"successCount": 1, "smsIds": ["m1$13800138000"]}}
        )
        sendn = mock.post("/sendn").respond(
            json={**envelope, "info": {"successCount": 1, "smsIds": ["m2$13900139000"]}}
        )
        mock.get("/timestamp/get").respond(
            json={**envelope, "info": {"timestamp": 1_700_000_000_123}}
        )
        mock.post("/sendContactListTask").respond(json={**envelope, "info": {"smsTask": task}})
        mock.post("/queryContactListTask").respond(json={**envelope, "info": {"smsTask": task}})
        with SendCloud(sms_user="u", sms_key=KEY, base_url=SENDCLOUD) as client:
            sent = client.sms.send(template_id=1, phones=["13800138000"])
            sent_n = client.sms.sendn(
                template_id=1, recipients=[Recipient("13900139000", {"%n%": "x"})]
            )
            clock = client.timestamp.get()
            created = client.contact_tasks.send(
                contact_list_names=["test"], task_name="t", template_id=9
            )
            queried = client.contact_tasks.query(task_id=472)
        assert [o.message_id for o in sent.outcomes] == ["m1$13800138000"]
        assert [o.status for o in sent_n.outcomes] == [OutcomeStatus.SENT]
        assert json.loads(_form(sendn.calls.last.request)["tos"])[0]["phone"] == "13900139000"
        assert clock.milliseconds == 1_700_000_000_123
        assert created.task_id == queried.task_id == 472


def test_crowdtask_every_endpoint() -> None:
    with respx.mock(base_url=CROWDTASK, assert_all_called=True) as mock:
        route = mock.post("/task/batch").respond(
            json={"status": "success", "result": {"tasknum": 2, "batchSN": "B1", "taskids": [7, 8]}}
        )
        with CrowdTask(access_id="a", access_secret_key=KEY, base_url=CROWDTASK) as client:
            result = client.tasks.batch(project_id=3, rows=[{"v": "x y"}, {"v": "z"}])
        assert (result.task_count, result.batch_sn, list(result.task_ids)) == (2, "B1", ["7", "8"])
        assert b'"x y"' in route.calls.last.request.content


def test_paasw_every_endpoint() -> None:
    report = {
        "phoneNumber": "13800138000",
        "sendTime": "2017-01-01 00:00:00",
        "reportTime": "2017-01-01 00:00:01",
        "success": True,
        "code": "10000",
        "message": "ok",
        "smsSize": "1",
        "bizId": "b1",
    }
    reply = {"phone_number": "13800138000", "send_time": "2017-09-01 00:00:00", "content": "TD"}
    with respx.mock(base_url=PAASW, assert_all_called=True) as mock:
        token = mock.get("/api/token").respond(
            json={"code": "10000", "token": "tok+/=", "expires_in": 7200}
        )
        mock.post("/sms/send").respond(json={"code": "10000", "message": "ok", "bizId": "b1"})
        mock.post("/sms/sendTemplate").respond(json={"code": "10000", "bizId": "b2"})
        mock.get("/sms/deliver").respond(json=[report])
        mock.get("/sms/smsUp").respond(json=[reply])
        mock.get("/sms/balance").respond(json={"code": "10000", "balance": 100.5})
        with Paasw(app_id="app", secret=KEY, base_url=PAASW) as client:
            sent = client.sms.send(phones=["13800138000"], sign="签名", content="【签名】hi")
            templated = client.sms.send_template(
                phones=["13800138000"],
                template_id="11",
                params=[{"name": "x"}],
                sign="签名",
                content="【签名】hi",
            )
            deliveries = client.reports.pull_deliveries()
            replies = client.reports.pull_replies(sign="签名")
            balance = client.account.balance()
        assert (sent.biz_id, templated.biz_id) == ("b1", "b2")
        assert [d.biz_id for d in deliveries] == ["b1"]
        assert [r.content for r in replies] == ["TD"]
        assert balance.balance == Decimal("100.5")
        assert token.call_count == 1  # one token for five calls


def test_provider_errors_cross_the_thread_typed() -> None:
    with respx.mock(base_url=SUBMAIL) as mock:
        mock.post("/sms/send.json").respond(
            json={"status": "error", "code": 101, "msg": "bad appid"}
        )
        with (
            Submail(app_id="10000", app_key=KEY, base_url=SUBMAIL) as client,
            pytest.raises(ProviderError) as info,
        ):
            client.sms.send(to="13800138000", content="【签名】您好")
    assert info.value.code == "101"
    assert KEY not in str(info.value)


def test_32_threads_share_one_blocking_client() -> None:
    seen_loops: set[int] = set()

    def answer(request: httpx.Request) -> httpx.Response:
        seen_loops.add(id(asyncio.get_running_loop()))
        return httpx.Response(200, json={"code": "10000", "balance": 1})

    with respx.mock(base_url=PAASW) as mock:
        token = mock.get("/api/token").respond(
            json={"code": "10000", "token": "t", "expires_in": 7200}
        )
        mock.get("/sms/balance").mock(side_effect=answer)
        with (
            Paasw(app_id="app", secret=KEY, base_url=PAASW, max_connections=8) as client,
            ThreadPoolExecutor(max_workers=32) as pool,
        ):
            balances = list(pool.map(lambda _: client.account.balance().balance, range(128)))
    assert balances == [Decimal(1)] * 128
    assert len(seen_loops) == 1  # every request was made on the client's one event loop
    assert token.call_count == 1


class _CountingHandler(BaseHTTPRequestHandler):
    """A tiny paasw look-alike that counts the connections open against it."""

    protocol_version = "HTTP/1.1"
    open_connections = 0
    total_connections = 0
    lock = threading.Lock()

    def setup(self) -> None:
        super().setup()
        with self.lock:
            type(self).open_connections += 1
            type(self).total_connections += 1

    def finish(self) -> None:
        with self.lock:
            type(self).open_connections -= 1
        super().finish()

    def do_GET(self) -> None:
        if self.path.startswith("/api/token"):
            body = {"code": "10000", "token": "t", "expires_in": 7200}
        else:
            body = {"code": "10000", "balance": 1}
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        pass


def test_no_connection_or_thread_left_after_close() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _CountingHandler)
    server.daemon_threads = True
    serving = threading.Thread(target=server.serve_forever, daemon=True)
    serving.start()
    try:
        before = {t.ident for t in threading.enumerate()}
        url = f"http://127.0.0.1:{server.server_address[1]}"
        client = Paasw(app_id="app", secret=KEY, base_url=url, max_connections=4)
        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(lambda _: client.account.balance(), range(40)))
        assert 1 <= _CountingHandler.total_connections <= 4  # lanes reused, never more than 4
        assert _CountingHandler.open_connections >= 1  # keep-alive while the client lives
        client.close()
        for _ in range(200):  # bounded wait for the server to see the EOFs
            if _CountingHandler.open_connections == 0:
                break
            threading.Event().wait(0.01)
        assert _CountingHandler.open_connections == 0
        # The test server's own per-connection threads may still be finishing; only a
        # thread of the client's would be a leak.
        left = {
            t.ident
            for t in threading.enumerate()
            if t is not serving and "process_request_thread" not in t.name
        }
        assert left <= before
    finally:
        server.shutdown()
        server.server_close()


def test_mypy_sees_real_types_on_blocking_clients(tmp_path: Path) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text(
        textwrap.dedent(
            """
            from crowdsms import Paasw, Submail

            def use(submail: Submail, paasw: Paasw) -> None:
                reveal_type(submail.sms.multisend)
                reveal_type(paasw.account.balance())
                submail.sms.send(to=13800138000, content="x")
            """
        )
    )
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", str(probe)],
        capture_output=True,
        text=True,
        check=False,
        cwd=Path(__file__).parents[2],
    )
    out = result.stdout
    assert (
        'Revealed type is "def (*, content: str, recipients: '
        "typing.Sequence[crowdsms.outcomes.Recipient], tag: str | None =) -> "
        'crowdsms.providers.submail._models.MultisendResult"'
    ) in out, out
    assert 'Revealed type is "crowdsms.providers.paasw._models.Balance"' in out, out
    assert 'Argument "to" has incompatible type "int"; expected "str"' in out, out
    assert "Any" not in out, out
