"""Personal data in the audit log on every backend (`projections.audit_personal`): entries
keep people's identifiers apart from the chain, an erasure cuts them and the chain still
verifies, entries written before are moved apart at open (and those of people erased before
are dropped), and a changed part is found by `verify`."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import orjson

from lrs.store.base import Backend
from projections.audit import AuditLog, seal
from projections.audit_personal import ERASED
from projections.erasure import gone_holders
from projections.store import ProjectionStores
from projections.store.audit import AuditRecord, PersonalPart
from projections.store.base import Claim, Member
from tests.lrs.http.test_erasure import stored_secrets

ADA, ADA_EMAIL, GONE = "EMP-ADA-3141", "ada.pi@example.com", "EMP-LEFT-2718"
# Not made of hex digits: the audit tables hold random hex ids and digests, where a short
# hex name (such as "ada7") turns up by chance now and then.
ADA_LOGIN = "ada-pi7"
SNAPSHOT = {
    "from": {"member": "E9", "claims": [[f"email:{ADA_EMAIL}", "2026-01-01", None]]},
    "into": {"member": ADA, "claims": []},
}


async def in_tables(backend: Backend, tmp_path: Path, secrets: list[str]) -> list[str]:
    """Where `secrets` are in any table or collection (files: the erasure tests' job, as
    only an erasure vacuums the file)."""
    empty = tmp_path / "no-files"
    empty.mkdir(exist_ok=True)
    return await stored_secrets(backend, empty, secrets)


async def merge_entry(audit: AuditLog) -> AuditRecord:
    return await audit.append(
        "identities.merged",
        actor="ops",
        subject="E9",
        details={"from": "E9", "into": ADA, "reason": "Ada Pi's duplicate"},
        before=SNAPSHOT,
    )


async def test_identifiers_are_kept_apart_and_erasure_cuts_them(
    stores: ProjectionStores, backend: Backend, tmp_path: Path
) -> None:
    audit = AuditLog(stores.audit)
    entry = await merge_entry(audit)
    assert entry.details["into"] == ADA and entry.before == SNAPSHOT  # as the caller gave
    stored = await stores.audit.head()
    assert stored is not None and ADA not in orjson.dumps(stored.details).decode()
    assert [e.before for e in await audit.entries()] == [SNAPSHOT]
    assert (await audit.verify()).intact
    assert await audit.erase_person([ADA, f"email:{ADA_EMAIL}", "E9"]) == 3
    [erased] = await audit.entries()
    assert erased.details == {"from": ERASED, "into": ERASED, "reason": ERASED}
    assert erased.before == {
        "from": {"member": ERASED, "claims": [[f"email:{ERASED}", "2026-01-01", None]]},
        "into": {"member": ERASED, "claims": []},
    }
    report = await audit.verify()
    assert report.intact and report.erased == 1
    secrets = [ADA, ADA_EMAIL, "Ada Pi"]
    assert await in_tables(backend, tmp_path, secrets) == []


async def test_a_changed_part_is_found(stores: ProjectionStores) -> None:
    audit = AuditLog(stores.audit)
    entry = await merge_entry(audit)
    pid = next(iter(entry.personal or {}))
    [part] = (await stores.audit.parts([pid])).values()
    await stores.audit.put_parts([PersonalPart(pid, part.holder, part.salt, {"1": "someone"})])
    report = await audit.verify()
    assert report.broken is not None and report.broken.seq == entry.seq
    assert "personal data" in report.broken.problem


async def legacy(stores: ProjectionStores, *entries: AuditRecord) -> None:
    """Entries as versions before personal parts wrote them: identifiers in clear."""
    for entry in entries:
        await stores.audit.insert_run([seal(entry, await stores.audit.head())])


async def test_entries_written_before_are_protected_at_open_then_erasable(
    stores: ProjectionStores, backend: Backend, tmp_path: Path
) -> None:
    await stores.identities.put_members([Member(ADA, (ADA_EMAIL,))])
    await stores.identities.put_claims(
        [
            Claim(f"email:{ADA_EMAIL}", ADA, "2026-01-01"),
            Claim(f"account:https://l.org\n{ADA_LOGIN}", ADA, "2026-01-01"),
        ]
    )
    imported = {"hires": [ADA, GONE], "changes": [], "terminations": [], "conflicts": []}
    await legacy(
        stores,
        AuditRecord(0, 1, "identities.import", "cli", "hris", imported),
        AuditRecord(0, 2, "hris.event", "hris:w", GONE, {"event_id": "e1"}),
        AuditRecord(0, 3, "identities.link", "cli", ADA, {"account": ["https://l.org", ADA_LOGIN]}),
        AuditRecord(0, 4, "client.created", "cli", "mkt_1", {"scopes": ["admin"]}),
    )
    head = await stores.audit.head()
    assert head is not None
    audit = AuditLog(stores.audit)
    assert await audit.protect_earlier(partial(gone_holders, stores.identities)) == 3
    assert await audit.protect_earlier(partial(gone_holders, stores.identities)) == 0
    assert await in_tables(backend, tmp_path, [GONE]) == []  # erased before: dropped
    listed = {e.seq: e for e in await audit.entries()}
    assert listed[1].details["hires"] == [ADA, ERASED] and listed[2].subject == ERASED
    assert listed[3].details["account"] == ["https://l.org", ADA_LOGIN]
    assert listed[4].details == {"scopes": ["admin"]}
    report = await audit.verify(expect_head=(head.seq, head.hash))
    assert report.intact and report.erased == 2
    await audit.erase_person([ADA, f"email:{ADA_EMAIL}", f"account:https://l.org\n{ADA_LOGIN}"])
    report = await audit.verify(expect_head=(head.seq, head.hash))
    assert report.intact and report.erased == 3
    found = await in_tables(backend, tmp_path, [ADA, ADA_LOGIN])
    assert [f for f in found if f.startswith("audit")] == []  # the identity map: not here
    assert (await audit.entries())[-1].details["hires"] == [ERASED, ERASED]
