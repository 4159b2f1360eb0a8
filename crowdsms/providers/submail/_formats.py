"""SUBMAIL's three answer formats, decoded into the same Python values.

The suffix of the request path (``.json``, ``.xml``, ``.yaml``) selects the format of the
answer. Whatever the format, the endpoints see the same shapes: a ``dict`` for an object
(``{"status": "success", "send_id": ..., "fee": 1}``, ``{"timestamp": 1414253462}``) and
a ``list`` of them for ``sms/multisend``.

**XML.** SUBMAIL does not publish its XML schema, so crowdsms assumes the usual mapping
of such APIs and turns a document into values by these rules:

- an element without child elements is its text, stripped (always a ``str``: numbers
  arrive as ``"1"``, which the models accept);
- an element whose children all have children themselves (``<results><item>...</item>
  <item>...</item></results>``), or whose children are two or more elements of one name,
  is a ``list`` of its children's values, whatever the children are called;
- any other element is a ``dict`` from each child's name (without a namespace) to its
  value; a name repeated among differently named siblings is refused as ambiguous.

The root element's name is ignored. Documents with a ``DOCTYPE`` are refused, so entity
expansion cannot blow up memory (stdlib ``xml.etree`` has no such guard of its own).

**YAML** needs PyYAML (``pip install 'crowdsms[yaml]'``) and is read with ``safe_load``.
"""

from __future__ import annotations

import importlib
import xml.etree.ElementTree as ElementTree
from typing import Any, Final, Literal

from crowdsms._parsing import decode_json, parse_error
from crowdsms._transport import ApiResponse
from crowdsms.errors import ConfigurationError

__all__ = ["RESPONSE_FORMATS", "ResponseFormat", "accept_header", "decode_answer", "require_yaml"]

ResponseFormat = Literal["json", "xml", "yaml"]
RESPONSE_FORMATS: Final[tuple[ResponseFormat, ...]] = ("json", "xml", "yaml")

_ACCEPT: Final[dict[str, str]] = {
    "json": "application/json",
    "xml": "application/xml, text/xml;q=0.9",
    "yaml": "application/x-yaml, application/yaml;q=0.9, text/yaml;q=0.8",
}


def accept_header(response_format: ResponseFormat) -> str:
    """The ``Accept`` header for answers in ``response_format``."""
    return _ACCEPT[response_format]


def require_yaml() -> None:
    """Raise :class:`ConfigurationError` if PyYAML is not installed."""
    try:
        importlib.import_module("yaml")
    except ImportError as exc:
        raise ConfigurationError(
            'response_format="yaml" needs PyYAML, which is not installed',
            received="response_format='yaml'",
            action="Install the extra with pip install 'crowdsms[yaml]', or use "
            'response_format="json" (the default)',
        ) from exc


def decode_answer(response: ApiResponse, response_format: ResponseFormat) -> Any:
    """The value of ``response``'s body in ``response_format``, or a ResponseParseError."""
    if response_format == "json":
        return decode_json(response)
    text = _text(response)
    if response_format == "xml":
        return _decode_xml(response, text)
    return _decode_yaml(response, text)


def _text(response: ApiResponse) -> str:
    content = response.content
    if not content.strip():
        raise parse_error(response, "the answer is empty")
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise parse_error(response, f"the answer is not valid UTF-8 ({exc.reason})") from exc
    head = text.lstrip()[:15].lower()
    if head.startswith(("<!doctype html", "<html")):
        raise parse_error(response, "the answer is an HTML page, not a SUBMAIL answer")
    return text


def _decode_yaml(response: ApiResponse, text: str) -> Any:
    yaml = importlib.import_module("yaml")
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        problem = str(getattr(exc, "problem", None) or type(exc).__name__)
        raise parse_error(response, f"the answer is not valid YAML ({problem})") from exc


def _decode_xml(response: ApiResponse, text: str) -> Any:
    if "<!DOCTYPE" in text or "<!ENTITY" in text:
        raise parse_error(response, "the XML answer has a DOCTYPE, which SUBMAIL never sends")
    try:
        root = ElementTree.fromstring(text)  # noqa: S314 (no DOCTYPE, so no entities)
    except ElementTree.ParseError as exc:
        raise parse_error(response, f"the answer is not valid XML ({exc})") from exc
    if _local_name(root.tag).lower() == "html":
        raise parse_error(response, "the answer is an HTML page, not a SUBMAIL answer")
    try:
        return _element_value(root)
    except (ValueError, RecursionError) as exc:
        raise parse_error(response, f"the XML answer has an unexpected shape ({exc})") from exc


def _local_name(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _element_value(element: ElementTree.Element) -> Any:
    children = list(element)
    if not children:
        return (element.text or "").strip()
    names = [_local_name(child.tag) for child in children]
    all_containers = all(len(child) > 0 for child in children)
    if all_containers or (len(names) > 1 and len(set(names)) == 1):
        return [_element_value(child) for child in children]
    if len(set(names)) != len(names):
        repeated = sorted({name for name in names if names.count(name) > 1})
        raise ValueError(f"<{_local_name(element.tag)}> repeats {', '.join(repeated)}")
    return {name: _element_value(child) for name, child in zip(names, children, strict=True)}
