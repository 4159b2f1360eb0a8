"""SUBMAIL's answer formats: JSON (default), XML and YAML, chosen by the path's suffix.

SUBMAIL does not publish its XML schema. The sandbox writes an object as
``<root><status>success</status>...</root>`` and a list as
``<results><item>...</item>...</results>``. YAML is written by hand (block style, strings
double-quoted) so the sandbox needs no YAML library.
"""

from __future__ import annotations

import json
from typing import Any, Final
from xml.sax.saxutils import escape

__all__ = ["FORMATS", "render"]

FORMATS: Final = {
    "json": "application/json",
    "xml": "application/xml; charset=utf-8",
    "yaml": "application/x-yaml; charset=utf-8",
}
"""Answer format -> media type."""


def render(data: Any, answer_format: str) -> bytes:
    """``data`` (dicts, lists, scalars) encoded in ``answer_format``."""
    if answer_format == "xml":
        return _xml(data).encode("utf-8")
    if answer_format == "yaml":
        return ("\n".join(_yaml(data, 0)) + "\n").encode("utf-8")
    # SUBMAIL's PHP servers escape non-ASCII characters in JSON (json_encode's default).
    return json.dumps(data, separators=(",", ":")).encode("ascii")


def _xml(data: Any) -> str:
    root = "results" if isinstance(data, list) else "root"
    return f'<?xml version="1.0" encoding="UTF-8"?>\n<{root}>{_xml_value(data)}</{root}>'


def _xml_value(data: Any) -> str:
    if isinstance(data, dict):
        return "".join(f"<{key}>{_xml_value(value)}</{key}>" for key, value in data.items())
    if isinstance(data, list):
        return "".join(f"<item>{_xml_value(value)}</item>" for value in data)
    return escape(_scalar_text(data))


def _scalar_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _yaml_scalar(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    # A JSON string is a valid YAML double-quoted scalar.
    return json.dumps(str(value), ensure_ascii=False)


def _yaml(data: Any, indent: int) -> list[str]:
    pad = " " * indent
    if isinstance(data, dict):
        if not data:
            return [pad + "{}"]
        lines = []
        for key, value in data.items():
            if isinstance(value, (dict, list)) and value:
                lines.append(f"{pad}{key}:")
                lines.extend(_yaml(value, indent + 2))
            else:
                lines.append(f"{pad}{key}: {_inline(value)}")
        return lines
    if isinstance(data, list):
        if not data:
            return [pad + "[]"]
        lines = []
        for value in data:
            nested = _yaml(value, indent + 2)
            lines.append(pad + "- " + nested[0].lstrip())
            lines.extend(nested[1:])
        return lines
    return [pad + _yaml_scalar(data)]


def _inline(value: Any) -> str:
    if isinstance(value, dict):
        return "{}"
    if isinstance(value, list):
        return "[]"
    return _yaml_scalar(value)
