"""The shared bulk importer: `lrs import-statements`, `lrs import-scorm`, the HRIS identity load.

`batches` writes items in batches through the statement service and counts what each write
did; `reports` holds the counts, the rejects report and the progress line; `rows` reads CSV
rows with the line each starts on; `files` opens a file (gzip by content); `columns` parses
`--columns`; `authority` is the authority an import sets.
"""

from lrs.importing.authority import import_authority
from lrs.importing.batches import BatchImporter, Item
from lrs.importing.reports import (
    CsvRejects,
    ImportCounts,
    NdjsonRejects,
    Progress,
    RejectLog,
    csv_rejects_file,
)

__all__ = [
    "BatchImporter",
    "CsvRejects",
    "ImportCounts",
    "Item",
    "NdjsonRejects",
    "Progress",
    "RejectLog",
    "csv_rejects_file",
    "import_authority",
]
