"""Statement → contribution (a Fact): the mapping applied, the actor named. Pure.

A statement contributes when it is in the mapping's scope (`projections.scope`), the
mapping's required targets all have values (an Activity object, a verb, a time) and its
actor is an Agent: a Group's statements are about the group,
not about one member. Voiding statements contribute nothing themselves; the worker uses them
to retract their target's contribution.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Mapping as MappingABC
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import orjson

from lrs.model.statements import StoredStatement
from projections.identity import actor_key
from projections.mapping import Mapping, load_mapping
from projections.quality import mapping_issues, out_of_scope_issue
from projections.retention import RetentionRules, wall_clock_us
from projections.scope import result_summary
from projections.settings import ProjectionSettings
from projections.store.base import Fact
from projections.store.quality import QualityIssue
from projections.transforms import TransformContext, VerbTable, load_verb_table


@dataclass(frozen=True)
class Contribution:
    """What a statement gives, before its actor is resolved to a member."""

    statement_id: str
    actor_key: str
    activity_id: str
    stored_us: int
    data: dict[str, Any]

    def fact(self, member_id: str | None, voided: bool) -> Fact:
        """The fact to store, once the actor's member (or None) is known."""
        return Fact(
            statement_id=self.statement_id,
            actor_key=self.actor_key,
            member_id=member_id,
            activity_id=self.activity_id,
            stored_us=self.stored_us,
            voided=voided,
            data=self.data,
        )


class Assessment(NamedTuple):
    """A statement's contribution (None: it makes none) and what could not be mapped of it.

    A tuple, not a frozen dataclass: one is made per statement projected, and building a frozen
    dataclass costs several times more."""

    contribution: Contribution | None
    issues: list[QualityIssue]
    actor_key: str | None = None  # without a contribution: whose issues they are (if any)


_NOTHING = Assessment(None, [])


@dataclass(frozen=True)
class Projector:
    """The mapping, the verb table and the identity settings: all a contribution needs.

    The mapping's retention periods are applied here (`projections.retention`), on `clock`'s
    "now", so that every path deriving contributions (worker, reconcile) drops the same
    expired values; with no period in the mapping that costs nothing.
    """

    mapping: Mapping
    verbs: VerbTable
    hris_home_page: str | None = None
    domain_aliases: MappingABC[str, str] = field(default_factory=dict)
    clock: Callable[[], int] = wall_clock_us
    retention: RetentionRules = field(init=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "retention", RetentionRules.from_mapping(self.mapping))

    @classmethod
    def from_settings(cls, settings: ProjectionSettings) -> Projector:
        """Load and check the mapping and verb table (MappingError names a bad row)."""
        return cls(
            mapping=load_mapping(settings.mapping_path),
            verbs=load_verb_table(settings.verbs_path),
            hris_home_page=settings.hris_home_page,
            domain_aliases=settings.domain_aliases,
        )

    def context(self, statement: MappingABC[str, Any]) -> TransformContext:
        """The transform context for one statement."""
        return TransformContext(
            statement=statement,
            verbs=self.verbs,
            hris_home_page=self.hris_home_page,
            domain_aliases=self.domain_aliases,
        )

    def contribution(self, statement: MappingABC[str, Any], stored_us: int) -> Contribution | None:
        """What the statement contributes, or None."""
        return self.assess(statement, stored_us).contribution

    def assess(self, statement: MappingABC[str, Any], stored_us: int) -> Assessment:
        """The statement's contribution and its data-quality issues (`projections.quality`).

        A statement outside the mapping's scope (`projections.scope`) contributes nothing;
        its issue, when it carries a completion or a score, says so.
        """
        actor = statement.get("actor")
        if not isinstance(actor, dict) or actor.get("objectType") == "Group":
            return _NOTHING
        statement_id = str(statement["id"]).lower()
        if not self.mapping.scope.in_scope(statement):
            return self._out_of_scope(statement, statement_id, actor)
        rejected: list[tuple[str, Any]] = []
        values = self.mapping.extract(statement, self.context(statement), rejected)
        if values and self.retention:
            values = self.retention.trim(values, stored_us, self.clock()) or {}
        if not values:
            return _NOTHING
        contribution = Contribution(
            statement_id=statement_id,
            actor_key=actor_key(values, actor),
            activity_id=values["activity_id"],
            stored_us=stored_us,
            data={k: v for k, v in values.items() if k not in ("member_id", "activity_id")},
        )
        issues = mapping_issues(statement_id, values["activity_id"], rejected) if rejected else []
        return Assessment(contribution, issues)

    def _out_of_scope(
        self, statement: MappingABC[str, Any], statement_id: str, actor: dict[str, Any]
    ) -> Assessment:
        """No contribution; an issue when it carries a result, with the actor key the worker
        resolves to name the member (the mapping is run for those only: they are few)."""
        result = result_summary(statement)
        if result is None:
            return _NOTHING
        obj = statement.get("object")
        activity = obj.get("id") if isinstance(obj, dict) else None
        values = self.mapping.extract(statement, self.context(statement))
        issues = out_of_scope_issue(statement_id, activity, result)
        return Assessment(None, issues, actor_key(values, actor))

    def stored_contribution(self, stored: StoredStatement) -> Contribution | None:
        """The contribution of a statement as the store holds it."""
        return self.contribution(orjson.loads(stored.raw), stored.stored_us)

    def stored_assessment(self, stored: StoredStatement) -> Assessment:
        """The assessment of a statement as the store holds it."""
        return self.assess(orjson.loads(stored.raw), stored.stored_us)
