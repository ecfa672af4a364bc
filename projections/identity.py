"""Who a statement is about: actor → member (DESIGN.md "Identity"), and the HRIS identity CSV.

An actor maps to a member by, in order:
1. an `account` whose `homePage` is `LRS_HRIS_HOME_PAGE`: its `name` is the employee id;
2. its `mbox`, normalised (lower-case, `+tag` stripped, domain aliases made canonical), found
   in the identity map;
3. otherwise it is *unmatched*: its contribution is kept under its actor key and projected as
   soon as the identity map learns the address (`lrs identities load`).

Actor keys name the identity a fact waits on: `hris:<employee id>`, `email:<normalised>`, or
`ifi:<IFI>` for identities that can never match (an `mbox_sha1sum`, an `openid`, a foreign
account). No member is ever invented (just-in-time provisioning is not built).
"""

from __future__ import annotations

import io
from collections.abc import Mapping as MappingABC
from collections.abc import Sequence
from typing import Any

from lrs.importing.rows import CsvRows
from lrs.xapi.agents import ifi_key
from projections.mapping import Mapping
from projections.store.base import IdentityStore, Member
from projections.transforms import TransformContext, VerbTable

HRIS, EMAIL, OTHER = "hris:", "email:", "ifi:"


class IdentityFileError(ValueError):
    """An identity CSV the loader refuses, naming the row."""


def actor_key(values: MappingABC[str, Any], actor: Any) -> str:
    """The identity a contribution waits on (see the module docstring)."""
    if values.get("member_id"):
        return HRIS + values["member_id"]
    if values.get("email"):
        return EMAIL + values["email"]
    return OTHER + (ifi_key(actor) or "anonymous")


class IdentityResolver:
    """Actor keys → member ids, through the identity map."""

    def __init__(self, store: IdentityStore) -> None:
        self._store = store

    async def members_for(self, keys: Sequence[str]) -> dict[str, str | None]:
        """Member id (or None: unmatched) for each actor key."""
        found: dict[str, str | None] = {}
        emails = []
        for key in dict.fromkeys(keys):
            if key.startswith(HRIS):
                found[key] = key[len(HRIS) :]
            elif key.startswith(EMAIL):
                emails.append(key[len(EMAIL) :])
            else:
                found[key] = None
        known = await self._store.member_for_emails(emails) if emails else {}
        for email in emails:
            found[EMAIL + email] = known.get(email)
        return found


def read_identity_csv(
    text: str, mapping: Mapping, *, domain_aliases: MappingABC[str, str]
) -> list[Member]:
    """Members from an HRIS identity CSV, columns as the mapping's `hris` rows name them.

    Each row is one member: the employee id, the primary email, secondary emails. A row
    without an employee id or a usable primary email is refused, naming its line; a member
    listed twice is refused too (the file is one consistent delta).
    """
    rows = CsvRows(io.StringIO(text))
    header = rows.header or []
    needed = {r.source_field for r in mapping.rows_for("hris") if r.required}
    missing = sorted(needed - set(header))
    if missing:
        raise IdentityFileError(f"identity file header: missing column(s) {', '.join(missing)}")
    ctx = TransformContext(statement={}, verbs=VerbTable(), domain_aliases=domain_aliases)
    members: dict[str, Member] = {}
    for row in rows:
        cells = dict(zip(header, row.cells, strict=False))  # cells past the header are ignored
        if not any(v.strip() for v in cells.values()):
            continue
        values = mapping.extract_hris(cells, ctx)
        if not values:
            raise IdentityFileError(
                f"identity file line {row.line}: needs an employee id and a valid email"
            )
        member_id = values["member_id"]
        if member_id in members:
            raise IdentityFileError(
                f"identity file line {row.line}: member {member_id} is listed twice"
            )
        emails = values["email"] if isinstance(values["email"], list) else [values["email"]]
        members[member_id] = Member(member_id=member_id, emails=tuple(dict.fromkeys(emails)))
    return list(members.values())
