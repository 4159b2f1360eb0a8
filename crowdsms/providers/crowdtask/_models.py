"""CrowdTask's results, the shapes of its answers, and the provider's one cattrs converter."""

from __future__ import annotations

from typing import Any

import attrs
import cattrs
from cattrs.gen import make_dict_structure_fn, override

__all__ = ["TaskBatchResult", "converter"]


@attrs.frozen(kw_only=True)
class TaskBatchResult:
    """What ``tasks.batch`` created.

    ``task_count`` is the number of tasks created (always the number of rows uploaded: an
    answer that says otherwise raises), ``batch_sn`` CrowdTask's serial number for the
    upload, and ``task_ids`` one task id per row, in the order the rows were given.
    """

    task_count: int
    batch_sn: str
    task_ids: tuple[str, ...]


@attrs.frozen
class _BatchAnswer:
    tasknum: int
    batch_sn: str
    taskids: tuple[str, ...]


@attrs.frozen
class _SuccessAnswer:
    status: str
    result: _BatchAnswer


_Ids = tuple[str, ...]


def _structure_str(value: Any, _type: object) -> str:
    # Ids may come as JSON numbers; anything else (a list, an object, null, a bool) is wrong.
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise TypeError(f"expected a string or an integer, got {type(value).__name__}")


def _structure_int(value: Any, _type: object) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value)
    raise TypeError(f"expected an integer, got {type(value).__name__} {value!r:.40}")


def _structure_ids(value: Any, _type: object) -> _Ids:
    if not isinstance(value, list):
        raise TypeError(f"expected a list of task ids, got {type(value).__name__}")
    return tuple(_structure_str(item, str) for item in value)


def _make_converter() -> cattrs.Converter:
    result = cattrs.Converter()
    result.register_structure_hook(str, _structure_str)
    result.register_structure_hook(int, _structure_int)
    result.register_structure_hook_func(lambda cls: cls == _Ids, _structure_ids)
    result.register_structure_hook(
        _BatchAnswer,
        make_dict_structure_fn(_BatchAnswer, result, batch_sn=override(rename="batchSN")),
    )
    return result


converter = _make_converter()
"""CrowdTask's cattrs converter: strict about types, tolerant of extra keys."""
