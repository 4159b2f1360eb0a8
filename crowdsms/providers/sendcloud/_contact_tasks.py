"""``client.contact_tasks``: send a template to whole contact lists, and follow the task."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from crowdsms._transport import ApiRequest, BodyEncoding, Transport
from crowdsms.providers.sendcloud._answers import parse_task
from crowdsms.providers.sendcloud._models import ContactListTask
from crowdsms.providers.sendcloud._validation import (
    check_contact_list_names,
    check_execute_time,
    check_optional_positive,
    check_optional_text,
    check_positive,
    check_text,
)

__all__ = ["ContactTaskEndpoints"]


class ContactTaskEndpoints:
    """Contact-list tasks (``client.contact_tasks``)."""

    def __init__(self, transport: Transport) -> None:
        self._transport = transport

    def __repr__(self) -> str:
        return f"<ContactTaskEndpoints {self._transport.base_url}>"

    async def send(
        self,
        *,
        contact_list_names: Sequence[str],
        task_name: str,
        template_id: int,
        label_id: int | None = None,
        sender_name: str | None = None,
        execute_time: dt.datetime | None = None,
    ) -> ContactListTask:
        """Create a task sending template ``template_id`` to the members of the lists.

        ``execute_time`` schedules it (an aware datetime is converted to China time, a
        naive one is taken as China time); without it the task runs at once. Creating a
        task sends messages, so a call that may have reached the provider is not retried.
        """
        fields = {
            "contactListName": check_contact_list_names(contact_list_names),
            "taskName": check_text(task_name, field="task_name"),
            "templateId": str(check_positive(template_id, field="template_id")),
        }
        label = check_optional_positive(label_id, field="label_id")
        if label is not None:
            fields["labelId"] = str(label)
        sender = check_optional_text(sender_name, field="sender_name")
        if sender is not None:
            fields["senderName"] = sender
        when = check_execute_time(execute_time)
        if when is not None:
            fields["executeTime"] = when
        request = ApiRequest(
            method="POST",
            path="sendContactListTask",
            operation="sendcloud.contact_tasks.send",
            fields=fields,
            encoding=BodyEncoding.FORM,
        )
        return parse_task(await self._transport.request(request))

    async def query(self, *, task_id: int) -> ContactListTask:
        """The task ``task_id`` as it is now (its status, member count, end time)."""
        request = ApiRequest(
            method="POST",
            path="queryContactListTask",
            operation="sendcloud.contact_tasks.query",
            fields={"taskId": str(check_positive(task_id, field="task_id"))},
            encoding=BodyEncoding.FORM,
            idempotent=True,
        )
        return parse_task(await self._transport.request(request))
