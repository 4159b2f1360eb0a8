"""CrowdTask's entry in the provider registry."""

from __future__ import annotations

from crowdsms.outcomes import ChunkSender
from crowdsms.providers._spec import (
    CredentialField,
    MessageOptions,
    ProviderSpec,
    SignatureVector,
    require_option,
)
from crowdsms.providers.crowdtask._blocking import CrowdTask
from crowdsms.providers.crowdtask._client import DEFAULT_BASE_URL, AsyncCrowdTask
from crowdsms.providers.crowdtask._codes import CODES, PROVIDER_NAME, PROVIDER_TITLE
from crowdsms.providers.crowdtask._signing import compute_signature

__all__ = ["PROVIDER"]


def _chunk_sender(client: AsyncCrowdTask, message: MessageOptions) -> ChunkSender:
    require_option(message.project_id, "--project-id", PROVIDER_NAME)
    assert message.project_id is not None
    return client.tasks.batch_chunks(project_id=message.project_id, columns=message.columns)


PROVIDER = ProviderSpec(
    name=PROVIDER_NAME,
    title=PROVIDER_TITLE,
    async_client=AsyncCrowdTask,
    blocking_client=CrowdTask,
    credentials=(
        CredentialField(name="access_id"),
        CredentialField(name="access_secret_key", secret=True),
    ),
    default_base_url=DEFAULT_BASE_URL,
    sandbox_prefix="/crowdtask",
    emulator="crowdsms.sandbox.emulators.crowdtask:CrowdTaskEmulator",
    chunk_sender=_chunk_sender,
    demo_message=MessageOptions(project_id=1, columns=("name", "code")),
    send_options={"project_id": "the project the rows become tasks of (required)"},
    compute_signature=compute_signature,
    signature_vectors=(
        SignatureVector(
            arguments={
                "secret": "0987654321",
                "action_uri": "/api/task/batch",
                "localtime": "1435132361000",
            },
            expected="6c52e7babb792123c66424d36c7805ba",
            source="CrowdTask's later signing document, worked example",
        ),
    ),
    codes=CODES,
    cannot_check="CrowdTask has no call that checks credentials without creating tasks",
)
