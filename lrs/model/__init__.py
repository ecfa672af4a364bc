"""Domain values shared by the xAPI rules, the HTTP layer, the services and the stores.

Frozen dataclasses, NamedTuples and constants only: this package imports no storage, HTTP or
service code, so the rules can use these values without depending on where they are kept.
"""
