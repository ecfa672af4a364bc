"""LTI 1.1 Basic Outcomes: replaceResult, readResult and deleteResult on a verified sourcedId.

Outcomes:
- the sourcedId is not one this platform issued, or was issued for another consumer key:
  OutcomeRefused (a POX failure);
- replaceResult with a score that is not a decimal from 0.0 to 1.0: OutcomeRefused;
- replaceResult: the score becomes the current result, and its statements (`lti.converters`,
  timestamp = when the platform accepted it) are stored through the statement service. A
  replace carrying the same score and message identifier as the current result is a re-send: it
  reuses that result's acceptance time, so its statements have the same ids and are stored once;
- readResult: the current score, or none;
- deleteResult: every statement stored for the result is voided (voiding statements through the
  statement service), then the result is removed.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import quote

from lrs.errors import BadRequest
from lrs.services.statements import StatementService
from lrs.xapi.timestamps import format_us
from lrs.xapi.versions import XAPI_VERSION
from lti import converters
from lti.pox import parse_score
from lti.sourcedids import ResultRef, SourcedIds
from lti.store.base import Consumer, OutcomeRecord, OutcomeStore
from lti.vocabulary import OUTCOME


class OutcomeRefused(BadRequest):
    """An outcome request the platform refuses; answered as a POX failure."""

    code = "outcome_refused"


def consumer_iri(base: str, key: str) -> str:
    """The Activity IRI of an LTI 1.1 consumer key."""
    return f"{base}/lti/1.1/consumers/{quote(key, safe='')}"


def link_iri(base: str, key: str, resource_link_id: str) -> str:
    """The Activity IRI of a resource link of a consumer."""
    return f"{consumer_iri(base, key)}/links/{quote(resource_link_id, safe='')}"


def consumer_authority(consumer: Consumer, home_page: str) -> dict[str, Any]:
    """The authority (and voiding actor) of statements from a consumer's outcomes."""
    return {
        "objectType": "Agent",
        "name": consumer.name,
        "account": {"homePage": home_page, "name": f"lti-consumer:{consumer.key}"},
    }


class OutcomeService:
    """The three Basic Outcomes operations."""

    def __init__(
        self,
        store: OutcomeStore,
        statements: StatementService,
        sourced_ids: SourcedIds,
        *,
        iri_base: str,
        authority_home_page: str,
        user_home_page: str,
    ) -> None:
        self._store = store
        self._statements = statements
        self._sourced_ids = sourced_ids
        self._iri_base = iri_base
        self._authority_home_page = authority_home_page
        self._user_home_page = user_home_page

    def result_ref(self, consumer: Consumer, sourced_id: str | None) -> ResultRef:
        """The result a sourcedId names, checked against the consumer that signed."""
        ref = self._sourced_ids.verify(sourced_id) if sourced_id else None
        if ref is None:
            raise OutcomeRefused("the sourcedId is missing or not one this platform issued")
        if ref.consumer_key != consumer.key:
            raise OutcomeRefused("the sourcedId was issued for another consumer key")
        return ref

    async def replace(
        self, consumer: Consumer, sourced_id: str | None, score_text: str | None, message_id: str
    ) -> float:
        """replaceResult; the score now current."""
        ref = self.result_ref(consumer, sourced_id)
        try:
            score = parse_score(score_text)
        except ValueError as exc:
            raise OutcomeRefused(str(exc)) from exc
        current = await self._store.get_outcome(*_key(ref))
        resend = current is not None and (current.score, current.message_id) == (score, message_id)
        received_us = current.received_us if resend and current else time.time_ns() // 1000
        grade = self._grade(consumer, ref, score, received_us, message_id)
        statements = converters.grade_statements(grade)
        await self._store.put_outcome(
            OutcomeRecord(
                *_key(ref),
                score=score,
                message_id=message_id,
                received_us=received_us,
                statement_ids=tuple(s["id"] for s in statements),
            )
        )
        await self._statements.store_statements(
            statements, authority=self._authority(consumer), version=XAPI_VERSION
        )
        return score

    async def read(self, consumer: Consumer, sourced_id: str | None) -> float | None:
        """readResult; None when there is no result."""
        current = await self._store.get_outcome(*_key(self.result_ref(consumer, sourced_id)))
        return None if current is None else current.score

    async def delete(self, consumer: Consumer, sourced_id: str | None) -> None:
        """deleteResult: void the result's statements, then remove it."""
        ref = self.result_ref(consumer, sourced_id)
        current = await self._store.get_outcome(*_key(ref))
        if current is None:
            return
        authority = self._authority(consumer)
        voiding = converters.voiding_statements(list(current.statement_ids), authority)
        if voiding:
            await self._statements.store_statements(
                voiding, authority=authority, version=XAPI_VERSION
            )
        await self._store.delete_outcome(*_key(ref), received_us=current.received_us)

    def _authority(self, consumer: Consumer) -> dict[str, Any]:
        return consumer_authority(consumer, self._authority_home_page)

    def _grade(
        self, consumer: Consumer, ref: ResultRef, score: float, received_us: int, message_id: str
    ) -> converters.Grade:
        return converters.Grade(
            source=converters.OUTCOMES_SOURCE,
            registration=consumer.key,
            item=ref.resource_link_id,
            user_id=ref.user_id,
            user_home_page=consumer.user_home_page or self._user_home_page,
            activity=converters.activity(
                link_iri(self._iri_base, consumer.key, ref.resource_link_id)
            ),
            grouping=consumer_iri(self._iri_base, consumer.key),
            timestamp=format_us(received_us),
            timestamp_us=received_us,
            given=score,
            maximum=1.0,
            final=True,
            threshold=consumer.passing_threshold,
            extensions={OUTCOME: {"resultScore": score, "messageIdentifier": message_id}},
        )


def _key(ref: ResultRef) -> tuple[str, str, str]:
    return ref.consumer_key, ref.resource_link_id, ref.user_id
