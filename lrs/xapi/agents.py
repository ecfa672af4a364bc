"""Agents and Groups: Inverse Functional Identifiers (1.0.3 Part 2 §2.4.2.3) as lookup keys."""

from __future__ import annotations

from typing import Any

IFI_PROPERTIES = ("mbox", "mbox_sha1sum", "openid", "account")


def ifi_key(agent: Any) -> str | None:
    """One string naming the agent's IFI, or None for an anonymous Group or a non-agent.

    Two agents match when they use the same IFI with equal values (Part 3 §2.1.3 `agent`).
    The domain part of an email address is case-insensitive (Part 2 §2.3.1), so mbox keys are
    lower-cased there.
    """
    if not isinstance(agent, dict):
        return None
    mbox = agent.get("mbox")
    if isinstance(mbox, str):
        local, _, domain = mbox.partition("@")
        return f"mbox:{local}@{domain.lower()}" if domain else f"mbox:{mbox}"
    sha1 = agent.get("mbox_sha1sum")
    if isinstance(sha1, str):
        return f"mbox_sha1sum:{sha1.lower()}"
    openid = agent.get("openid")
    if isinstance(openid, str):
        return f"openid:{openid}"
    account = agent.get("account")
    if isinstance(account, dict):
        return f"account:{account.get('homePage')}\n{account.get('name')}"
    return None


def agent_keys(actor: Any) -> list[str]:
    """The keys an Agent or Group answers to: its own IFI and, for a Group, its members'.

    Part 3 §2.1.3: "Groups that have members which match the specified Agent ... are
    considered a match".
    """
    if not isinstance(actor, dict):
        return []
    keys = []
    own = ifi_key(actor)
    if own is not None:
        keys.append(own)
    if actor.get("objectType") == "Group":
        for member in actor.get("member") or ():
            key = ifi_key(member)
            if key is not None:
                keys.append(key)
    return keys
