"""The cyclic collector paused while a batch is applied (`projections.collection`)."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from dataclasses import replace

import pytest

from lrs.store.base import Backend
from projections.collection import collection_paused
from projections.store import ProjectionStores
from tests.projections.conftest import Writer, statement


@pytest.fixture(autouse=True)
def collector_restored() -> Iterator[None]:
    """Whatever a test does, the collector is as it was after it."""
    was = gc.isenabled()
    yield
    if was:
        gc.enable()
    else:
        gc.disable()


def test_the_collector_is_off_inside_and_back_on_after() -> None:
    gc.enable()
    with collection_paused():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_overlapping_pauses_resume_only_when_the_last_ends() -> None:
    gc.enable()
    first, second = collection_paused(), collection_paused()
    first.__enter__()
    second.__enter__()
    first.__exit__(None, None, None)  # not nested: the first ends while the second runs
    assert not gc.isenabled()
    second.__exit__(None, None, None)
    assert gc.isenabled()


def test_a_collector_turned_off_before_stays_off() -> None:
    gc.disable()
    with collection_paused():
        assert not gc.isenabled()
    assert not gc.isenabled()


def test_an_error_inside_still_resumes_the_collector() -> None:
    gc.enable()
    with pytest.raises(RuntimeError), collection_paused():
        raise RuntimeError("batch failed")
    assert gc.isenabled()


def test_cycles_made_during_the_pause_are_collected_at_its_end() -> None:
    gc.enable()

    class Node:
        pass

    with collection_paused():
        node = Node()
        node.self = node  # type: ignore[attr-defined]
        found = [o for o in gc.get_objects(generation=0) if o is node]
        assert found
        del node, found
    assert not any(isinstance(o, Node) for o in gc.get_objects())


async def test_a_worker_batch_runs_with_the_collector_off(
    backend: Backend, stores: ProjectionStores, make_worker, writer: Writer
) -> None:
    real = stores.facts
    seen: list[bool] = []

    class Spy:
        def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
            return getattr(real, name)

        async def replace_facts(self, facts, voiding=()):  # type: ignore[no-untyped-def]
            seen.append(gc.isenabled())
            return await real.replace_facts(facts, voiding)

    gc.enable()
    worker = make_worker()
    worker._stores = replace(stores, facts=Spy())  # type: ignore[arg-type]
    await writer.store(statement("completed"))
    assert await worker.run_once() == 1
    assert seen == [False]
    assert gc.isenabled()
