"""What a statement answers to in GET /statements filters (1.0.3 Part 3 §2.1.3)."""

from __future__ import annotations

from lrs.xapi.indexing import index_statement

ALICE = {"objectType": "Agent", "mbox": "mailto:alice@Example.COM"}
BOB = {"mbox_sha1sum": "ABCDEF0123456789ABCDEF0123456789ABCDEF01"}
CAROL = {"openid": "http://openid.example.com/carol"}
DAVE = {"account": {"homePage": "http://hr.example.com", "name": "dave"}}
TEAM = {"objectType": "Group", "name": "team", "member": [BOB, CAROL]}
COURSE = "http://example.com/course"
PARENT = "http://example.com/parent"
VERB = "http://adlnet.gov/expapi/verbs/completed"

A, B = "mbox:mailto:alice@example.com", "mbox_sha1sum:abcdef0123456789abcdef0123456789abcdef01"
C, D = "openid:http://openid.example.com/carol", "account:http://hr.example.com\ndave"


def test_a_simple_statement_answers_to_its_actor_verb_activity_and_authority() -> None:
    index = index_statement(
        {"actor": ALICE, "verb": {"id": VERB}, "object": {"id": COURSE}, "authority": DAVE},
        "the credential",
    )
    assert index.agents == (A,)
    assert index.related_agents == (A, D)  # the authority is a related agent
    assert index.verbs == (VERB,)
    assert index.activities == index.related_activities == (COURSE,)
    assert index.registrations == ()
    assert index.authorities == ("the credential",)


def test_a_group_answers_for_its_members_and_an_agent_object_is_an_agent() -> None:
    index = index_statement(
        {"actor": TEAM, "verb": {"id": VERB}, "object": ALICE | {"objectType": "Agent"}}, None
    )
    assert index.agents == (B, C, A)
    assert index.related_agents == (B, C, A)
    assert index.activities == index.related_activities == ()
    assert index.authorities == ()


def test_context_agents_and_activities_are_related_only() -> None:
    statement = {
        "actor": ALICE,
        "verb": {"id": VERB},
        "object": {"id": COURSE},
        "context": {
            "registration": "AAAAAAAA-0000-4000-8000-000000000000",
            "instructor": DAVE,
            "team": TEAM,
            "contextActivities": {"parent": {"id": PARENT}, "grouping": [{"id": COURSE}]},
        },
    }
    index = index_statement(statement, None)
    assert index.agents == (A,)
    assert set(index.related_agents) == {A, B, C, D}
    assert index.activities == (COURSE,)
    assert set(index.related_activities) == {COURSE, PARENT}
    assert index.registrations == ("aaaaaaaa-0000-4000-8000-000000000000",)


def test_xapi_2_context_agents_and_groups_are_related_agents() -> None:
    statement = {
        "actor": ALICE,
        "verb": {"id": VERB},
        "object": {"id": COURSE},
        "context": {"contextAgents": [{"agent": DAVE}], "contextGroups": [{"group": TEAM}]},
    }
    index = index_statement(statement, None)
    assert index.agents == (A,)
    assert set(index.related_agents) == {A, B, C, D}


def test_a_substatement_counts_for_the_related_kinds_only() -> None:
    statement = {
        "actor": ALICE,
        "verb": {"id": VERB},
        "object": {
            "objectType": "SubStatement",
            "actor": DAVE,
            "verb": {"id": "http://example.com/verbs/planned"},
            "object": {"id": COURSE},
            "context": {"contextActivities": {"parent": [{"id": PARENT}]}},
        },
    }
    index = index_statement(statement, None)
    assert index.agents == (A,)
    assert index.related_agents == (A, D)
    assert index.verbs == (VERB,)  # the SubStatement's verb is not the statement's
    assert index.activities == ()
    assert index.related_activities == (COURSE, PARENT)


def test_a_statement_ref_object_adds_no_keys_of_its_own() -> None:
    statement = {
        "actor": ALICE,
        "verb": {"id": "http://adlnet.gov/expapi/verbs/voided"},
        "object": {"objectType": "StatementRef", "id": "aaaaaaaa-0000-4000-8000-000000000000"},
    }
    index = index_statement(statement, None)
    assert index.kind_bits.keys() == {A, "http://adlnet.gov/expapi/verbs/voided"}
