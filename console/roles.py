"""Which console roles may act on the feed: the pages that change things check these.

A viewer sees every page of the feed's health (webhooks, quality queue, identity conflicts);
an operator also acts on them (redeliver, retry, dismiss, resolve, subscribe); an admin does
all that and manages credentials, marketplace clients and operators (`CAN_MANAGE`).
"""

from __future__ import annotations

CAN_ACT = ("admin", "operator")
