"""SCORM 1.2 / 2004 run-time data and legacy completion records → xAPI statements.

Follows the ADL xAPI SCORM Profile. Pure conversion, no I/O: the HTTP endpoint and the
`lrs import-scorm` command hand the statements to the statement service.

    cmi.py        commits (nested JSON, flattened JSON, form parameters) → flat CMI elements
    snapshot.py   flat CMI elements → a validated, version-neutral snapshot
    mapping.py    snapshot (+ previous snapshot) → statements   ← convert_attempt
    records.py    CSV / NDJSON completion-record exports → statements or rejections
    vocabulary.py the profile's verbs, activity types, profile activity, document ids
    errors.py     ScormDataError, naming the bad element

The runtime endpoint and the import, around that core:

    request_bodies.py  open-attempt and commit request bodies → values
    attempts.py   per-attempt state; the order of commits (seq, finish, duplicates)
    documents.py  CMI elements → the profile's state and profile documents
    docwriter.py  writes those documents through the document service
    tokens.py     signed, expiring commit-URL tokens; the key file
    service.py    ScormService: open an attempt, apply a commit (the write path's caller)
    http/         the /scorm sub-app: POST /scorm/v1/attempts, POST /scorm/v1/commits/{token}
    keys.py       the sub-app's AppKeys
    store/        the attempt store: Protocol, SQLite, MongoDB
    importer.py   `lrs import-scorm`: batches, counts, rejects, progress
    cli.py        the `import-scorm` subcommand; register(commands)
    settings.py   LRS_SCORM_* variables
"""

from scorm_adapter.cmi import CmiData, ScormVersion, parse_form_commit, parse_json_commit
from scorm_adapter.context import SCORM_NAMESPACE, AttemptContext
from scorm_adapter.errors import ScormDataError
from scorm_adapter.mapping import convert_attempt

__all__ = [
    "SCORM_NAMESPACE",
    "AttemptContext",
    "CmiData",
    "ScormDataError",
    "ScormVersion",
    "convert_attempt",
    "parse_form_commit",
    "parse_json_commit",
]
