"""Chunk references (what a request carries so reports name its chunk) and opt-out words."""

from __future__ import annotations

import pytest

from crowdsms.deliveries import (
    ChunkReference,
    OptOutWords,
    chunk_reference,
    job_hash,
    parse_reference,
)


@pytest.mark.parametrize("chunk", [0, 1, 35, 36, 10**6, 10**9])
@pytest.mark.parametrize("resend", [0, 1, 40])
def test_a_reference_names_its_job_chunk_and_resend_within_32_ascii_characters(
    chunk: int, resend: int
) -> None:
    job = "campaign 2026-12 · 双十二 promotion with a very long name " * 3
    text = chunk_reference(job, chunk, resend)
    assert len(text) <= 32
    assert text.isascii()
    assert parse_reference(text) == ChunkReference(job=job_hash(job), chunk=chunk, resend=resend)


def test_two_jobs_have_different_references_for_the_same_chunk() -> None:
    assert chunk_reference("job-a", 3) != chunk_reference("job-b", 3)


@pytest.mark.parametrize(
    "text",
    [None, "", "my-own-tag", "cs1.short.1", "cs1.0123456789ab.zz!", "cs2.0123456789ab.1", "cs1"],
)
def test_texts_that_are_not_references_parse_to_none(text: str | None) -> None:
    assert parse_reference(text) is None


def test_negative_chunks_are_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        chunk_reference("job", -1)


@pytest.mark.parametrize("reply", ["T", "t", " TD ", "退订", "R", "Ｔ", "td。", "【退订】", "r!"])
def test_replies_that_mean_stop(reply: str) -> None:
    assert OptOutWords().means_stop(reply)


@pytest.mark.parametrize("reply", ["T恤多少钱", "好的", "Thanks", "不要退订", "", "RT"])
def test_replies_that_merely_contain_a_word_do_not_opt_out(reply: str) -> None:
    assert not OptOutWords().means_stop(reply)


def test_the_words_are_configurable() -> None:
    words = OptOutWords(("STOP", "取消"))
    assert words.means_stop("stop")
    assert words.means_stop("取消")
    assert not words.means_stop("T")


@pytest.mark.parametrize("words", [(), ("",), ("  ",)])
def test_empty_words_are_refused(words: tuple[str, ...]) -> None:
    with pytest.raises(ValueError, match="non-empty"):
        OptOutWords(words)


def test_one_text_instead_of_a_list_is_refused() -> None:
    with pytest.raises(TypeError, match="list of texts"):
        OptOutWords("TD")
