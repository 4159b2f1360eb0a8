"""An asyncio web app (Starlette) that keeps one async client for its whole lifetime.

The client is created when the app starts and closed when it stops (the lifespan), so every
request shares its connections, clock offset and retry budget. Handlers simply ``await``.

Run it against the sandbox::

    crowdsms sandbox --port 8080 &
    CROWDSMS_SUBMAIL_BASE_URL=http://127.0.0.1:8080/submail uvicorn examples.web_app:app
    curl -X POST localhost:8000/verify -d '{"phone": "13800138000", "code": "123456"}'
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from crowdsms import AsyncSubmail
from crowdsms.errors import CrowdSMSError, InvalidInputError


@contextlib.asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    async with AsyncSubmail(
        app_id=os.environ.get("CROWDSMS_SUBMAIL_APP_ID", "88000"),
        app_key=os.environ.get("CROWDSMS_SUBMAIL_APP_KEY", "sandbox-appkey-5f0c2e6b9a1d4c37"),
        base_url=os.environ.get("CROWDSMS_SUBMAIL_BASE_URL", "http://127.0.0.1:8080/submail"),
    ) as client:
        app.state.submail = client
        yield


async def verify(request: Request) -> JSONResponse:
    body = await request.json()
    client: AsyncSubmail = request.app.state.submail
    try:
        result = await client.sms.send(
            to=str(body["phone"]), content=f"【SANDBOX】您的验证码是 {body['code']}"
        )
    except InvalidInputError as error:
        return JSONResponse({"error": str(error), "field": error.field}, status_code=400)
    except CrowdSMSError as error:
        return JSONResponse({"error": str(error)}, status_code=502)
    return JSONResponse({"send_id": result.send_id, "fee": result.fee})


app = Starlette(routes=[Route("/verify", verify, methods=["POST"])], lifespan=lifespan)
