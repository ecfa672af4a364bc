"""The compiled extractor gives exactly what the mapping's rows, interpreted one by one, give.

The reference below is the row-by-row interpreter the mapping ran before it was compiled
(`read_path` for every path, the transforms by name, `coerce` against the target's type, a
`one` row skipped once its target has a value). It is compared with `Mapping.extract` over
the ingest benchmark's realistic statements, the projection benchmark's mix, and hand-made
edge cases, with the shipped mapping and with a mapping that has `many` and mixed rows.
"""

from __future__ import annotations

import copy
import random
from typing import Any

import pytest

from projections.facts import Projector
from projections.mapping import TARGET_FIELDS, Mapping, MappingRow, parse_mapping, type_check
from projections.mapping import read_path as read_json_path
from projections.settings import SPEC_DIR
from projections.transforms import TransformContext, load_verb_table
from tests.perf.ingest import ACCOUNT_HOMES, StatementFactory
from tests.perf.projection import HRIS as BENCH_HRIS
from tests.perf.projection import Backlog
from tests.projections.conftest import HRIS, hris_actor, mbox_actor, projection_settings, statement

BADGE = "urn:lrs-marketplace:extension:badge"
CERT = "urn:lrs-marketplace:extension:certificate"
CERT_USAGE = "http://id.tincanapi.com/attachment/certificate-of-completion"


def interpreted(rows: tuple[MappingRow, ...], source: Any, ctx: TransformContext) -> dict[str, Any]:
    """The mapping applied row by row, in file order (the rules of projections/mapping.py)."""
    values: dict[str, Any] = {}
    for row in rows:
        if row.cardinality != "many" and values.get(row.target_field) not in (None, []):
            continue
        raw = _read(row, source)
        if row.cardinality == "many":
            items = raw if isinstance(raw, list) else [] if raw is None else [raw]
            found = [v for v in (_apply(row, item, ctx) for item in items) if v is not None]
            current = values.get(row.target_field)
            merged = current if isinstance(current, list) else [] if current is None else [current]
            values[row.target_field] = merged + [v for v in found if v not in merged]
        else:
            values[row.target_field] = _apply(row, raw, ctx)
    for row in rows:
        if row.required and values.get(row.target_field) in (None, []):
            return {}
    return {k: v for k, v in values.items() if v not in (None, [])}


def _read(row: MappingRow, source: Any) -> Any:
    if row.source_system == "hris":
        cell = (source.get(row.source_field) or "").strip()
        if row.cardinality == "many":
            return [p.strip() for p in cell.replace("|", ";").split(";") if p.strip()]
        return cell or None
    return read_json_path(row.path, source)


def _apply(row: MappingRow, raw: Any, ctx: TransformContext) -> Any:
    value = raw
    for transform in row.transforms:
        if value is None:
            return None
        value = transform.func(value, ctx)
    return (
        value if value is not None and type_check(TARGET_FIELDS[row.target_field])(value) else None
    )


def edge_cases() -> list[dict[str, Any]]:
    """Statements that reach the rarer rows: badges, certificates, odd types, no activity."""
    earned = "http://specification.openbadges.org/xapi/verbs/earned"
    badge_object = {
        "objectType": "Activity",
        "id": "https://badges.example.com/b/1",
        "definition": {"name": {"en-US": "Badge"}},
    }
    cases = [
        statement("completed", result={"completion": True, "success": False}),
        statement("experienced", result={"completion": False, "success": True}),
        statement("answered", result={"score": {"raw": 45, "min": 0, "max": 50}}),
        statement("scored", result={"score": {"raw": 400}}),
        statement("scored", result={"score": {"scaled": -0.5}}),
        statement("scored", result={"score": "high"}),
        statement(earned, object=badge_object),
        statement(earned, object={**badge_object, "definition": "not an object"}),
        statement(
            "passed",
            result={"extensions": {BADGE: {"id": "b-7", "metadata": {"level": 2}}}},
        ),
        statement("passed", result={"extensions": {BADGE: {"id": ""}, CERT: "ftp://x/y"}}),
        statement("completed", result={"extensions": {CERT: "https://certs.example.com/c/1"}}),
        statement(
            "completed",
            attachments=[
                {"usageType": "http://example.com/other", "fileUrl": "https://x.example/a"},
                {"usageType": CERT_USAGE, "fileUrl": "https://certs.example.com/c/2"},
            ],
            result={"extensions": {CERT: "https://certs.example.com/c/3"}},
        ),
        statement("completed", attachments=[{"usageType": CERT_USAGE, "fileUrl": "no url"}]),
        statement("completed", attachments={"usageType": CERT_USAGE}),
        statement("attempted", actor=mbox_actor("Ada+tag@GoogleMail.com")),
        statement("attempted", actor={"mbox": "mailto:no-at-sign"}),
        statement("attempted", actor={"account": {"homePage": HRIS + "/", "name": "E9"}}),
        statement("attempted", actor={"account": {"homePage": HRIS, "name": ""}}),
        statement("attempted", actor={"objectType": "Group", "member": [hris_actor("E1")]}),
        statement("attempted", timestamp="2024-03-01T12:00:00+02:00"),
        statement("attempted", timestamp="yesterday"),
        statement("attempted", timestamp="2024-03-01T12:00:00"),
        statement("https://example.com/verbs/unknown"),
        {**statement("attempted"), "verb": "not an object"},
        {**statement("attempted"), "object": {"objectType": "StatementRef", "id": "x"}},
        {**statement("attempted"), "object": {"id": "https://lms.example.com/implicit"}},
        {**statement("attempted"), "object": {"objectType": "Agent", "mbox": "mailto:a@b.c"}},
        {**statement("attempted"), "object": {"objectType": "Activity", "id": ""}},
        {**statement("attempted"), "result": ["not", "an", "object"]},
        {**statement("attempted"), "timestamp": None},
        {k: v for k, v in statement("attempted").items() if k != "timestamp"},
        {"actor": hris_actor("E1")},
        {},
    ]
    return cases


def realistic() -> list[dict[str, Any]]:
    """The ingest benchmark's statements and the projection benchmark's mix (seeded)."""
    factory = StatementFactory(random.Random(3), learners=300, courses=10)
    backlog = Backlog(random.Random(4), 600, 0.8)
    return factory.statements(600) + backlog.statements(600)


def projector_for(home_page: str) -> Projector:
    return Projector.from_settings(projection_settings(hris_home_page=home_page))


@pytest.mark.parametrize("home_page", [HRIS, BENCH_HRIS, ACCOUNT_HOMES[0]])
def test_the_compiled_mapping_equals_the_interpreted_rows(home_page: str) -> None:
    projector = projector_for(home_page)
    rows = projector.mapping.rows_for("xapi")
    samples = realistic() + edge_cases()
    contributing = 0
    for sample in samples:
        before = copy.deepcopy(sample)
        ctx = projector.context(sample)
        expected = interpreted(rows, sample, ctx)
        got = projector.mapping.extract(sample, ctx)
        assert got == expected, sample
        assert list(got) == list(expected), sample  # the same keys in the same order
        assert sample == before  # nothing read was changed
        contributing += bool(got)
    assert 0 < contributing < len(samples)


def small_mapping() -> Mapping:
    """Rows the shipped mapping lacks: a `many` xapi row, one target from `one` and `many`."""
    text = (
        "# version: t\n"
        "source_system,source_field,target_field,data_type,transform,required,notes,"
        "cardinality,retention_policy\n"
        "xapi,object.id,activity_id,string,if_activity,yes,,one,until_voided\n"
        "xapi,verb.id,verb_id,string,,yes,,one,until_voided\n"
        "xapi,timestamp,last_activity_at,datetime,parse_iso8601,yes,,one,until_voided\n"
        "xapi,context.extensions[urn:x:mails],email,email,lowercase_email,no,,many,none\n"
        "xapi,actor.mbox,email,email,lowercase_email,no,,one,none\n"
        "xapi,context.extensions[urn:x:mails2],email,email,lowercase_email,no,,many,none\n"
        "xapi,attachments[0].fileUrl,certificate_ref,url,validate_url,no,,one,none\n"
        "hris,employee_id,member_id,string,,yes,,one,member_lifetime\n"
        "hris,email,email,email,lowercase_email,yes,,one,member_lifetime\n"
        "hris,secondary_emails,email,email,lowercase_email,no,,many,member_lifetime\n"
    )
    return parse_mapping(text)


def test_many_and_mixed_rows_compile_to_the_same_values() -> None:
    mapping = small_mapping()
    verbs = load_verb_table(SPEC_DIR / "marketplace-verbs.csv")
    samples = [
        statement("attempted"),
        statement("attempted", actor=mbox_actor("A@x.com")),
        statement(
            "attempted",
            actor=mbox_actor("A@x.com"),
            context={"extensions": {"urn:x:mails": ["B@x.com", "bad", "a@x.com"]}},
        ),
        statement(
            "attempted",
            context={"extensions": {"urn:x:mails": "C@x.com", "urn:x:mails2": ["c@x.com", 3]}},
            attachments=[{"fileUrl": "https://x.example/c"}, {"fileUrl": "https://y"}],
        ),
        statement("attempted", attachments=[]),
    ]
    for sample in samples:
        ctx = TransformContext(statement=sample, verbs=verbs)
        expected = interpreted(mapping.rows_for("xapi"), sample, ctx)
        assert mapping.extract(sample, ctx) == expected
        assert list(mapping.extract(sample, ctx)) == list(expected)
    ctx = TransformContext(statement={}, verbs=verbs)
    for cells in (
        {"employee_id": "E1", "email": "A@x.com", "secondary_emails": "b@x.com; C@x.com|a@x.com"},
        {"employee_id": " E2 ", "email": "", "secondary_emails": "b@x.com"},
        {"employee_id": "E3", "email": "d@x.com"},
        {"employee_id": "", "email": "d@x.com"},
    ):
        assert mapping.extract_hris(cells, ctx) == interpreted(mapping.rows_for("hris"), cells, ctx)
