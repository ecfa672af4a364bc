"""ActivityStore contract, on every backend."""

from __future__ import annotations

import asyncio

from lrs.store.base import Backend
from lrs.xapi.activities import merge_definition


async def test_merge_creates_then_merges(backend: Backend) -> None:
    store = backend.activities
    await store.merge_activities({"http://a.example/1": {"name": {"en": "One"}}}, merge_definition)
    await store.merge_activities({"http://a.example/1": {"name": {"fr": "Un"}}}, merge_definition)
    found = await store.get_activities(["http://a.example/1", "http://a.example/missing"])
    assert found == {"http://a.example/1": {"name": {"en": "One", "fr": "Un"}}}


async def test_concurrent_merges_lose_nothing(backend: Backend) -> None:
    store = backend.activities
    languages = [f"l{n}" for n in range(20)]
    await asyncio.gather(
        *(
            store.merge_activities({"http://a.example/c": {"name": {tag: tag}}}, merge_definition)
            for tag in languages
        )
    )
    found = await store.get_activities(["http://a.example/c"])
    assert set(found["http://a.example/c"]["name"]) == set(languages)


async def test_extension_keys_with_dots_and_dollars_survive(backend: Backend) -> None:
    definition = {"extensions": {"http://ext.example/a.b$c": {"$x.y": 1}}}
    await backend.activities.merge_activities({"http://a.example/e": definition}, merge_definition)
    assert (await backend.activities.get_activities(["http://a.example/e"]))[
        "http://a.example/e"
    ] == definition
