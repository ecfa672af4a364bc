"""Which agent places erasure rewrites, and what it leaves (`lrs.xapi.erasure`)."""

from __future__ import annotations

import pytest

from lrs.errors import ConfigError
from lrs.services.erasure import person_keys
from lrs.settings import Settings
from lrs.xapi.agents import ifi_key
from lrs.xapi.erasure import erase_agents, pseudonymous_agent
from lrs.xapi.indexing import index_statement

ADA = {"objectType": "Agent", "name": "Ada", "mbox": "mailto:ada@Example.com"}
BOB = {"objectType": "Agent", "mbox": "mailto:bob@example.com"}
KEYS = {"mbox:mailto:ada@example.com"}
P = pseudonymous_agent("http://lrs/erased", "pm_1")
ERASED = {"objectType": "Agent", **P}


def everywhere() -> dict:
    level = {
        "actor": {"objectType": "Group", "member": [BOB, ADA]},
        "verb": {"id": "http://v"},
        "object": ADA,
        "context": {
            "instructor": ADA,
            "team": {"objectType": "Group", "mbox": "mailto:team@example.com", "member": [ADA]},
            "contextAgents": [{"objectType": "contextAgent", "agent": ADA}],
            "contextGroups": [{"objectType": "contextGroup", "group": {"member": [ADA]}}],
        },
    }
    return {**level, "object": {"objectType": "SubStatement", **level}, "authority": ADA}


def test_every_agent_place_is_rewritten_and_no_key_of_the_person_is_left() -> None:
    out = erase_agents(everywhere(), KEYS, P)
    assert out is not None
    assert "mbox:mailto:ada@example.com" not in index_statement(out, None).kind_bits
    assert ifi_key(P) in index_statement(out, None).related_agents
    assert b"Ada" not in repr(out).encode()
    assert out["authority"] == ERASED
    sub = out["object"]
    assert sub["object"] == ERASED
    assert sub["context"]["contextAgents"][0]["agent"] == ERASED
    assert out["context"]["team"]["mbox"] == "mailto:team@example.com"  # the Group stays
    assert out["context"]["team"]["member"] == [ERASED]


def test_a_statement_not_naming_the_person_is_left_alone() -> None:
    statement = {"actor": BOB, "verb": {"id": "http://v"}, "object": {"id": "http://a"}}
    assert erase_agents(statement, KEYS, P) is None


def test_an_mbox_brings_its_sha1sum_forms() -> None:
    keys = person_keys([{"mbox": "mailto:ada@Example.com"}])
    assert keys[0] == "mbox:mailto:ada@example.com"
    assert len([k for k in keys if k.startswith("mbox_sha1sum:")]) == 2
    with pytest.raises(ValueError):
        person_keys([{"name": "no identifier"}])


def test_the_statement_policy_setting() -> None:
    assert Settings.from_env({}).erasure_statements == "pseudonymise"
    assert Settings.from_env({"LRS_ERASURE_STATEMENTS": "Delete"}).erasure_statements == "delete"
    with pytest.raises(ConfigError, match="LRS_ERASURE_STATEMENTS"):
        Settings.from_env({"LRS_ERASURE_STATEMENTS": "shred"})
