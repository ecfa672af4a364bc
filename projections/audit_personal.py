"""Personal data in audit entries, kept apart from the chain so that an erasure can cut it.

The audit log is append-only and hash-chained (`projections.audit`), yet an entry may name
people: the member ids an import hired, the addresses a merge moved, the employee id of an
HRIS event. An erasure must remove those identifiers without breaking the chain. So an entry
never holds them: every identifier is replaced, where it stands, by a token `⟦pd:N⟧`, and the
values are kept in `PersonalPart`s, one per *holder* (the member id, or the identity key
`email:<address>` / `account:<home page>\\n<name>` the value stands for). The chained entry
holds the tokens and, per part, a salted SHA-256 digest (`personal`: part id -> digest): the
chain still covers the identifiers (a changed part no longer matches its digest), the salt
keeps a digest from confirming a guessed employee id, and deleting a person's parts
(`AuditStore.erase_parts` with the member id, merged ids, claim keys and pseudonym) leaves
the chain whole. Readers get the entry back with the values in place, or `[erased]`.

Which strings are identifiers is decided here, per entry type, so that callers pass what they
always passed (`MEMBER_FIELDS`, `DESCRIBED_KEY_FIELDS`, `HELD_FIELDS`) and, anywhere in an
entry, identity keys (`email:`, `account:`, `hris:`). A caller that knows more passes it
(`AuditLog.append(personal=...)`: a revealed pseudonym's member).

Entries written before parts existed hold identifiers in clear under their hash. The
migration at open (`AuditLog.protect_earlier`) moves them into parts the same way and marks
the entry `clear`: its hash is checked over the values put back, which works until one of its
parts is erased; from then on `verify` checks that entry's place in the chain (sequence
number, previous hash) but not its content, and counts it as erased. Parts whose holder was
erased before the upgrade (a member id the identity map no longer holds, a key nobody
claims) are not written at all.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from typing import Any

import orjson

from projections.store.audit import AuditRecord, PersonalPart

ERASED = "[erased]"
TOKEN = re.compile("\u27e6pd:([0-9]+)\u27e7")
_KEY_PREFIXES = ("email:", "hris:")

_MERGE_FIELDS = (
    "subject",
    "details.from",
    "details.into",
    "before.from.member",
    "before.into.member",
    "after.from.member",
    "after.into.member",
)
MEMBER_FIELDS: dict[str, tuple[str, ...]] = {
    "identities.import": ("details.hires", "details.changes", "details.terminations"),
    "identities.merge": ("subject", "details.into"),
    "identities.link": ("subject",),
    "identities.resolve": ("details.member", "details.dropped"),
    "identities.merged": _MERGE_FIELDS,
    "identities.unmerged": _MERGE_FIELDS,
    "hris.event": ("subject",),  # written before this version; now the event id (below)
    "pseudonym.revealed": ("subject",),
}
"""Fields holding member ids (or a pseudonym), by entry type; a field may hold a list."""

KEY_TYPE_PREFIX = "identities."
"""Only identity operations put identity keys (`email:...`) in their entries: the others are
not searched for them (token issuance appends an entry per token)."""

DESCRIBED_KEY_FIELDS: dict[str, tuple[str, ...]] = {
    "identities.merge": ("details.key",),
    "identities.resolve": ("subject",),
}
"""Fields holding a key as operators read it: an address, or `account <home page> <name>`."""

HELD_FIELDS: dict[str, tuple[tuple[str, str], ...]] = {
    "identities.merged": (("details.reason", "details.from"),),
    "identities.unmerged": (("details.reason", "details.from"),),
    "identities.merge": (("details.from", "details.into"),),
}
"""Values held by the member another field names: a merge's reason (free text about the
person), and the provisional id a member absorbed (the same person, before the HRIS knew)."""

PERSONAL_TYPES = frozenset(MEMBER_FIELDS) | frozenset(DESCRIBED_KEY_FIELDS)


def token(n: int) -> str:
    """The placeholder of value number `n` of an entry."""
    return f"\u27e6pd:{n}\u27e7"


def _fields(record: AuditRecord) -> dict[str, Any]:
    return {
        "subject": record.subject,
        "details": record.details,
        "before": record.before,
        "after": record.after,
    }


def _at(fields: Mapping[str, Any], path: str) -> list[str]:
    """The strings at a dotted path (a list's strings when it holds a list)."""
    value: Any = fields
    for name in path.split("."):
        value = value.get(name) if isinstance(value, Mapping) else None
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str)]
    return []


def _strings(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _key_value(text: str) -> tuple[str, str] | None:
    """(identifier, holder) of an identity key, or None for any other string."""
    for prefix in _KEY_PREFIXES:
        if text.startswith(prefix) and len(text) > len(prefix):
            rest = text[len(prefix) :]
            return rest, (rest if prefix == "hris:" else text)
    if text.startswith("account:") and "\n" in text:
        name = text.partition("\n")[2]
        return (name, text) if name else None
    return None


def _described_value(text: str) -> tuple[str, str] | None:
    """(identifier, holder) of a key as `describe_key` wrote it."""
    parts = text.split(" ", 2)
    if len(parts) == 3 and parts[0] == "account" and parts[2]:
        return parts[2], f"account:{parts[1]}\n{parts[2]}"
    return (text, "email:" + text) if "@" in text else None


def personal_values(record: AuditRecord) -> dict[str, str]:
    """Every identifier the entry holds, mapped to its holder (see the module docstring)."""
    fields, kind = _fields(record), record.type
    found: dict[str, str] = {}
    for path in MEMBER_FIELDS.get(kind, ()):
        found.update((v, v) for v in _at(fields, path) if v)
    if kind == "hris.event" and record.subject == record.details.get("event_id"):
        found.pop(record.subject, None)  # named by its event id: names nobody
    for path in DESCRIBED_KEY_FIELDS.get(kind, ()):
        found.update(pair for v in _at(fields, path) if (pair := _described_value(v)))
    if kind == "identities.link":
        account = _at(fields, "details.account")
        if len(account) == 2 and account[1]:
            found[account[1]] = f"account:{account[0].rstrip('/')}\n{account[1]}"
    if kind.startswith(KEY_TYPE_PREFIX):
        found.update(pair for text in _strings(fields) if (pair := _key_value(text)))
    for path, holder_path in HELD_FIELDS.get(kind, ()):
        holders = _at(fields, holder_path)
        found.update((v, holders[0]) for v in _at(fields, path) if v and holders)
    return found


def _replace_strings(value: Any, change: Callable[[str], str]) -> Any:
    if isinstance(value, str):
        return change(value)
    if isinstance(value, Mapping):
        return {k: _replace_strings(v, change) for k, v in value.items()}
    if isinstance(value, list):
        return [_replace_strings(v, change) for v in value]
    return value


def _tokenised(text: str, numbers: Mapping[str, int]) -> str:
    """`text` with the identifier it is, or ends with after a key's prefix, as a token."""
    if text in numbers:
        return token(numbers[text])
    for split in (_key_value(text), _described_value(text)):
        if split is not None and split[0] in numbers and text.endswith(split[0]):
            return text[: -len(split[0])] + token(numbers[split[0]])
    return text


def digest(part: PersonalPart) -> str:
    """The salted digest the chained entry keeps of a part."""
    body = orjson.dumps({"holder": part.holder, "values": part.values}, option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(part.salt.encode() + body).hexdigest()


def protect(
    record: AuditRecord, values: Mapping[str, str], *, clear: bool = False
) -> tuple[AuditRecord, list[PersonalPart]]:
    """The entry with its identifiers as tokens (its `personal` set), and the parts."""
    numbers = {value: n for n, value in enumerate(sorted(values), start=1)}
    by_holder: dict[str, dict[str, str]] = {}
    for value, n in numbers.items():
        by_holder.setdefault(values[value], {})[str(n)] = value
    parts = [
        PersonalPart(raw[:12].hex(), holder, raw[12:].hex(), held)
        for holder, held in sorted(by_holder.items())
        if (raw := secrets.token_bytes(28))  # a random id and a random salt
    ]
    changed = {
        name: _replace_strings(value, lambda s: _tokenised(s, numbers))
        for name, value in _fields(record).items()
    }
    personal = {p.pid: digest(p) for p in parts}
    return replace(record, **changed, personal=personal, clear=clear), parts


def reveal(record: AuditRecord, parts: Mapping[str, PersonalPart]) -> AuditRecord:
    """The entry with the values of its stored parts in place of tokens, `[erased]` for
    the others."""
    if not record.personal:
        return record
    values: dict[str, str] = {}
    for pid in record.personal:
        if pid in parts:
            values.update(parts[pid].values)

    def put_back(text: str) -> str:
        return TOKEN.sub(lambda m: values.get(m.group(1), ERASED), text)

    changed = {name: _replace_strings(v, put_back) for name, v in _fields(record).items()}
    return replace(record, **changed)


def missing_parts(record: AuditRecord, parts: Mapping[str, PersonalPart]) -> list[str]:
    """The entry's part ids no longer stored (erased)."""
    return [pid for pid in record.personal or {} if pid not in parts]


def altered_parts(record: AuditRecord, parts: Mapping[str, PersonalPart]) -> list[str]:
    """The entry's stored parts that no longer match the digest it chains (not for `clear`
    entries, whose hash covers the values themselves)."""
    chained = record.personal or {}
    return [pid for pid in chained if pid in parts and digest(parts[pid]) != chained[pid]]
