"""Which strings of an audit entry are a person's identifiers, and how they come back
(`projections.audit_personal`, pure)."""

from __future__ import annotations

from projections.audit_personal import ERASED, personal_values, protect, reveal
from projections.store.audit import AuditRecord


def test_an_absorbed_provisional_id_and_its_key_are_the_members() -> None:
    entry = AuditRecord(
        0,
        1,
        "identities.merge",
        "cli",
        "E1",
        {"from": "prov_abc", "into": "E1", "key": "account https://lms.org ada 7", "reason": "r"},
    )
    assert personal_values(entry) == {
        "E1": "E1",
        "prov_abc": "E1",
        "ada 7": "account:https://lms.org\nada 7",
    }
    kept, parts = protect(entry, personal_values(entry))
    assert kept.details["key"].startswith("account https://lms.org \u27e6pd:")
    assert "ada" not in str(kept.details) and kept.details["reason"] == "r"
    revealed = reveal(kept, {p.pid: p for p in parts})
    assert (revealed.subject, revealed.details) == (entry.subject, entry.details)
    held = {p.pid: p for p in parts if p.holder != "E1"}  # the member's parts erased
    assert reveal(kept, held).details == {
        "from": ERASED,
        "into": ERASED,
        "key": "account https://lms.org ada 7",
        "reason": "r",
    }


def test_keys_anywhere_and_an_import_s_member_lists() -> None:
    entry = AuditRecord(
        0,
        1,
        "identities.import",
        "cli",
        "hris",
        {"hires": ["E1"], "changes": [], "terminations": ["E2"], "conflicts": ["email:a@x.org"]},
    )
    assert personal_values(entry) == {"E1": "E1", "E2": "E2", "a@x.org": "email:a@x.org"}
    kept, _parts = protect(entry, personal_values(entry))
    assert kept.details["conflicts"][0].startswith("email:\u27e6pd:")
    assert personal_values(AuditRecord(0, 1, "client.created", "cli", "mkt_1")) == {}
