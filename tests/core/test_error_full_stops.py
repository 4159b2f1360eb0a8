"""No error message has a doubled full stop, whatever its parts already end with.

Every ``CrowdSMSError`` subclass in crowdsms is built through its own constructor with
texts that already end in ".", "..." or ". ", and none of the messages may hold "..".
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from typing import Any

import pytest

import crowdsms
from crowdsms.errors import CrowdSMSError, DeliveryCertainty, ResponseParseError


def _import_every_module() -> None:
    for module in pkgutil.walk_packages(crowdsms.__path__, "crowdsms."):
        if not module.name.endswith("__main__"):
            importlib.import_module(module.name)


def _subclasses(cls: type[CrowdSMSError]) -> set[type[CrowdSMSError]]:
    found = {cls}
    for sub in cls.__subclasses__():
        found |= _subclasses(sub)
    return found


_import_every_module()
ERRORS = sorted(
    (cls for cls in _subclasses(CrowdSMSError) if cls.__module__.startswith("crowdsms")),
    key=lambda cls: f"{cls.__module__}.{cls.__qualname__}",
)
ENDINGS = [".", "...", ". ", " . ", ".\n"]


def _values(end: str) -> dict[str, Any]:
    """A value for each constructor parameter, every text ending in ``end``."""
    return {
        "what": "it went wrong" + end,
        "received": "HTTP 500, body 'busy'" + end,
        "action": "Try again later" + end,
        "provider": "paasw",
        "code": "40001",
        "provider_message": "令牌无效。",
        "explanation": "the token is invalid" + end,
        "operation": "paasw.sms.send",
        "certainty": DeliveryCertainty.UNKNOWN,
        "status_code": 502,
        "retry_after": 2.0,
        "field": "recipients[3].phone",
        "position": 3,
        "line": 7,
        "duplicate": True,
        "retryable": False,
        "job_wide": None,
        "body": b"{}",
        "errors": [
            ("primary", CrowdSMSError("it went wrong" + end)),
            ("backup", CrowdSMSError("it went wrong too" + end)),
        ],
        "phone": "13800138000",
        "campaign_id": "promo-12",
        "events": [],
        "pulled": 2,
        "suggestion": "promo-11",
        "count": 1,
        "seconds": 60.0,
        "window": "1 per minute" + end,
        "cause": ResponseParseError(
            "the answer is not JSON" + end,
            certainty=DeliveryCertainty.UNKNOWN,
            received="'<html>'" + end,
            action="Report it" + end,
        ),
    }


def _build(cls: type[CrowdSMSError], end: str) -> CrowdSMSError:
    values = _values(end)
    arguments: list[Any] = []
    keywords: dict[str, Any] = {}
    for name, parameter in inspect.signature(cls).parameters.items():
        if name not in values:
            assert parameter.default is not inspect.Parameter.empty, (
                f"{cls.__qualname__}({name}=...): give this test a value for {name!r}"
            )
            continue
        if parameter.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD:
            arguments.append(values[name])
        else:
            keywords[name] = values[name]
    return cls(*arguments, **keywords)


def test_every_error_class_of_crowdsms_is_covered() -> None:
    names = {cls.__name__ for cls in ERRORS}
    # A few from different modules, so that a broken discovery cannot pass silently.
    assert {"CrowdSMSError", "ProviderError", "TokenFetchError", "WebhookReplayError"} <= names
    assert {"CvsFormatError", "JournalBusyError", "EventLoopBlockedError"} <= names


@pytest.mark.parametrize("end", ENDINGS, ids=repr)
@pytest.mark.parametrize("cls", ERRORS, ids=lambda cls: cls.__qualname__)
def test_no_error_message_has_a_doubled_full_stop(cls: type[CrowdSMSError], end: str) -> None:
    message = str(_build(cls, end))
    assert ".." not in message
    assert ". ." not in message
    assert message.endswith(".")


def test_parts_ending_in_a_full_stop_are_joined_with_one() -> None:
    error = CrowdSMSError("it broke.", received="3 items.", action="Fix it.")
    assert str(error) == "it broke. Received: 3 items. Fix it."
    assert (error.what, error.received, error.action) == ("it broke.", "3 items.", "Fix it.")


def test_an_ellipsis_at_the_end_becomes_one_full_stop() -> None:
    error = CrowdSMSError("waiting...", received="'busy' ...", action="Wait...")
    assert str(error) == "waiting. Received: 'busy'. Wait."


def test_a_question_or_exclamation_mark_is_not_followed_by_a_full_stop() -> None:
    error = CrowdSMSError("is the key right?", received="'no!'!", action="Check it!")
    assert str(error) == "is the key right? Received: 'no!'! Check it!"
    chinese = CrowdSMSError("令牌无效。", received="'x'")
    assert str(chinese) == "令牌无效。 Received: 'x'."


def test_full_stops_inside_the_parts_are_kept() -> None:
    error = CrowdSMSError("v1.2 failed", received="'a..b'", action="See docs.example.com")
    assert str(error) == "v1.2 failed. Received: 'a..b'. See docs.example.com."
