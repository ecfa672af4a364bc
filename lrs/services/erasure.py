"""Erasing a person from the LRS's xAPI data: their statements and the documents about them.

The one operation the projection's erasure (`lrs identities erase`, the `erase` HRIS event)
calls for the xAPI store. Statements are immutable in xAPI; this is an exception made for a
legal obligation, not an xAPI operation, and no xAPI resource reaches it. What it does, by
`LRS_ERASURE_STATEMENTS` (docs/xapi.md, "Erasing a person"):
- `pseudonymise`: every agent place naming the person (see `lrs.xapi.erasure`) holds a
  pseudonymous account instead (`<base URL>/erased`, the caller's opaque name), and the filter
  indexes follow: `agent=` finds them under the pseudonym, never under an old identifier;
- `delete`: those statements are removed from the store and every index.
Statements that only inherit the person through a StatementRef keep their JSON and answer to
the pseudonym (or, when deleting, to nobody). State and Agent Profile documents about the
person are deleted. It works in bounded pages, each its own write, so ingest goes on meanwhile,
and a run that was interrupted is finished by running it again with the same arguments.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from functools import partial
from typing import Any

from lrs.model.erasure import ErasedPage, ErasureCounts, ErasurePolicy
from lrs.settings import Settings, public_base_url
from lrs.store.base import Backend, ErasableStatements
from lrs.xapi.agents import ifi_key
from lrs.xapi.erasure import ERASED_HOME_PATH, erase_agents_raw, pseudonymous_agent

# statements per write: bounds memory and how long one page holds the SQLite writer
ERASURE_PAGE = 200


def erased_home_page(settings: Settings) -> str:
    """The homePage of the pseudonymous accounts erased people become."""
    return public_base_url(settings) + ERASED_HOME_PATH


def person_keys(ifis: Sequence[Mapping[str, Any]]) -> list[str]:
    """The IFI keys a person answers to: each identifier given and, for an mbox, its
    mbox_sha1sum (the same person, hashed: 1.0.3 Part 2 §2.4.2.3), so neither form remains."""
    keys: list[str] = []
    for ifi in ifis:
        key = ifi_key(dict(ifi))
        if key is None:
            raise ValueError("each identifier must be an mbox, mbox_sha1sum, openid or account")
        keys.append(key)
        mbox = ifi.get("mbox")
        if isinstance(mbox, str):
            for form in dict.fromkeys((mbox, "mailto:" + key.removeprefix("mbox:mailto:"))):
                digest = hashlib.sha1(form.encode(), usedforsecurity=False).hexdigest()
                keys.append(f"mbox_sha1sum:{digest}")
    return list(dict.fromkeys(keys))


async def erase_person(
    backend: Backend,
    ifis: Sequence[Mapping[str, Any]],
    replacement_name: str,
    policy: ErasurePolicy | str,
    *,
    home_page: str,
    page_size: int = ERASURE_PAGE,
) -> ErasureCounts:
    """Erase the person with these identifiers (see the module docstring); counts only.

    `replacement_name` is the opaque name of their pseudonymous account (it must carry no
    personal data); `home_page` its homePage (`erased_home_page`).
    """
    chosen = ErasurePolicy(policy)
    if not replacement_name:
        raise ValueError("the pseudonymous name must not be empty")
    keys = person_keys(ifis)
    pseudonym = pseudonymous_agent(home_page, replacement_name)
    statements = backend.statements
    if not isinstance(statements, ErasableStatements):
        raise TypeError("this statement store cannot erase")
    pages = await _erase_statements(
        statements, keys, pseudonym, delete=chosen is ErasurePolicy.DELETE, page_size=page_size
    )
    documents = await backend.documents.delete_agent_documents(keys)
    await statements.settle_erasure()
    return ErasureCounts(
        statements_pseudonymised=sum(page.pseudonymised for page in pages),
        statements_deleted=sum(page.deleted for page in pages),
        statements_unlinked=sum(page.unlinked for page in pages),
        documents_deleted=documents,
    )


async def _erase_statements(
    statements: ErasableStatements,
    keys: list[str],
    pseudonym: dict[str, Any],
    *,
    delete: bool,
    page_size: int,
) -> list[ErasedPage]:
    """Every page of the store's erasure, until it reports done."""
    replacement = ifi_key(pseudonym)
    if replacement in keys:
        raise ValueError("the pseudonymous account is one of the person's identifiers")
    rewrite = partial(erase_agents_raw, keys=frozenset(keys), replacement=pseudonym)
    pages: list[ErasedPage] = []
    while not (pages and pages[-1].done):
        page = await statements.erase_agent_page(
            keys, rewrite, replacement=replacement, delete=delete, limit=page_size
        )
        pages.append(page)
    return pages
