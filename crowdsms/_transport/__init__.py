"""The transport core: one attempt loop for every provider (private; see the client classes)."""

from __future__ import annotations

from crowdsms._transport.backends import HTTP_BACKENDS, AutoLanes, HttpBackend
from crowdsms._transport.budget import RetryBudget
from crowdsms._transport.clock import SkewClock
from crowdsms._transport.connections import (
    AttemptState,
    ClientSender,
    Received,
    Sender,
    TransportSender,
)
from crowdsms._transport.lanes import LanePool
from crowdsms._transport.loop import DEFAULT_MAX_RESPONSE_BYTES, DEFAULT_TIMEOUT, Transport
from crowdsms._transport.policy import RetryPolicy
from crowdsms._transport.rate_limit import TokenBucket
from crowdsms._transport.request import ApiRequest, ApiResponse, BodyEncoding, FilePart
from crowdsms._transport.retry_after import parse_retry_after
from crowdsms._transport.runtime import Runtime
from crowdsms._transport.signer import NoSigning, Rejection, RejectionKind, Signer
from crowdsms._transport.wire import WireRequest

__all__ = [
    "DEFAULT_MAX_RESPONSE_BYTES",
    "DEFAULT_TIMEOUT",
    "HTTP_BACKENDS",
    "ApiRequest",
    "ApiResponse",
    "AttemptState",
    "AutoLanes",
    "BodyEncoding",
    "ClientSender",
    "FilePart",
    "HttpBackend",
    "LanePool",
    "NoSigning",
    "Received",
    "Rejection",
    "RejectionKind",
    "RetryBudget",
    "RetryPolicy",
    "Runtime",
    "Sender",
    "Signer",
    "SkewClock",
    "TokenBucket",
    "Transport",
    "TransportSender",
    "WireRequest",
    "parse_retry_after",
]
