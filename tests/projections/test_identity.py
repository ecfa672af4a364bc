"""Identity: actor keys, resolution through the identity map, and the HRIS identity CSV."""

from __future__ import annotations

import pytest

from projections.facts import Projector
from projections.identity import (
    IdentityFileError,
    IdentityResolver,
    actor_key,
    read_identity_csv,
)
from projections.store import ProjectionStores
from projections.store.base import Member

ALIASES = {"googlemail.com": "gmail.com"}


def test_actor_keys() -> None:
    assert actor_key({"member_id": "E1", "email": "a@x.com"}, {}) == "hris:E1"  # account wins
    assert actor_key({"email": "a@x.com"}, {}) == "email:a@x.com"
    sha1 = {"mbox_sha1sum": "ABC"}
    assert actor_key({}, sha1) == "ifi:mbox_sha1sum:abc"
    assert actor_key({}, {"objectType": "Agent"}) == "ifi:anonymous"


async def test_resolution(stores: ProjectionStores) -> None:
    await stores.identities.put_members([Member("E2", ("a@x.com",))])
    found = await IdentityResolver(stores.identities).members_for(
        ["hris:E1", "email:a@x.com", "email:b@x.com", "ifi:openid:http://x", "hris:E1"]
    )
    assert found == {
        "hris:E1": "E1",  # the HRIS account is the employee id, map or no map
        "email:a@x.com": "E2",
        "email:b@x.com": None,
        "ifi:openid:http://x": None,
    }


def test_identity_csv(projector: Projector) -> None:
    text = (
        "employee_id,email,secondary_emails\n"
        "E1,Ada.Lovelace+hr@GoogleMail.com,ada@home.example; ADA@Home.Example\n"
        "E2,grace@example.com,\n"
        ",,\n"
    )
    members = read_identity_csv(text, projector.mapping, domain_aliases=ALIASES)
    assert members == [
        Member("E1", ("ada.lovelace@gmail.com", "ada@home.example")),
        Member("E2", ("grace@example.com",)),
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("employee,email\nE1,a@x.com\n", "missing column"),
        ("employee_id,email\nE1,not-an-address\n", "line 2"),
        ("employee_id,email\n,a@x.com\n", "line 2"),
        ("employee_id,email\nE1,a@x.com\nE1,b@x.com\n", "line 3: member E1 is listed twice"),
    ],
)
def test_bad_identity_files_name_the_line(projector: Projector, text: str, message: str) -> None:
    with pytest.raises(IdentityFileError, match=message):
        read_identity_csv(text, projector.mapping, domain_aliases=ALIASES)


def test_a_bad_row_is_named_by_the_line_it_starts_on(projector: Projector) -> None:
    # A quoted cell may span lines: the row is named where it starts, as in `lrs import-scorm`.
    text = (
        "employee_id,email,secondary_emails\n"
        "E1,a@x.com,\n"
        ',b@x.com,"c@x.com;\nd@x.com"\n'  # no employee id, on lines 3-4
    )
    with pytest.raises(IdentityFileError, match="identity file line 3: needs an employee id"):
        read_identity_csv(text, projector.mapping, domain_aliases=ALIASES)
