"""The anyio plugin really runs these tests once per backend, and pytest-asyncio leaves them."""

from __future__ import annotations

import pytest
import sniffio

pytestmark = pytest.mark.anyio


async def test_the_test_runs_on_the_backend_it_is_named_after(anyio_backend: str) -> None:
    assert sniffio.current_async_library() == anyio_backend
