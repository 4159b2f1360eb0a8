"""No silent cap: a concurrency above the client's connections is refused, not quietly cut."""

from __future__ import annotations

import pytest

from crowdsms.batch import BatchSender
from crowdsms.errors import ConfigurationError

from .fakes import FakeChunkSender


class ClientBoundSender(FakeChunkSender):
    """A fake chunk sender whose client keeps ``max_connections`` connections."""

    def __init__(self, max_connections: int | None) -> None:
        super().__init__()
        self.max_connections = max_connections


def test_more_concurrency_than_connections_is_refused_with_both_ways_out() -> None:
    with pytest.raises(ConfigurationError) as caught:
        BatchSender(ClientBoundSender(16), concurrency=64)
    message = str(caught.value)
    assert "concurrency=64" in message
    assert "max_connections=64" in message
    assert "concurrency=16" in message


@pytest.mark.parametrize(("connections", "concurrency"), [(16, 16), (64, 8), (None, 512)])
def test_concurrency_within_the_connections_is_taken(
    connections: int | None, concurrency: int
) -> None:
    sender = BatchSender(ClientBoundSender(connections), concurrency=concurrency)
    assert sender.config.concurrency == concurrency
