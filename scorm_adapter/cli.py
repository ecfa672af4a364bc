"""`lrs import-scorm FILE`: import legacy SCORM completion records (CSV or NDJSON).

Exit status: 0 when every row is new or already present, 1 when some rows were rejected, 2
when the file cannot be read (a missing column, a bad option) or the store fails; what was
stored stays stored, and running the same import again completes it and stores nothing twice.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal, Protocol, TextIO, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from lrs.cli_support import positive_int, with_backend
from lrs.importing import Progress, RejectLog, csv_rejects_file, import_authority
from lrs.importing.columns import ColumnsError
from lrs.importing.columns import parse_columns as shared_parse_columns
from lrs.importing.history import ImportRecord, record_run
from lrs.services.factory import statement_service
from lrs.settings import Settings
from lrs.store.base import Backend
from lrs.store.import_runs import SCORM, ImportRun
from scorm_adapter.errors import ScormDataError
from scorm_adapter.importer import REJECT_COLUMNS, RecordImporter, progress_bar, summary
from scorm_adapter.records import RECORD_FIELDS, RecordOptions, read_records
from scorm_adapter.settings import ScormSettings


class ScormCommandConfig(Protocol):
    """What the SCORM commands read of the process configuration (`lrs.config.Config`).

    A structural type, so that this package does not import the composition root's config
    (which imports every package's settings).
    """

    @property
    def core(self) -> Settings: ...

    @property
    def scorm(self) -> ScormSettings: ...


DEFAULT_BATCH = 500
DEFAULT_AUTHORITY_NAME = "lrs-import-scorm"
_FORMATS = {".csv": "csv", ".ndjson": "ndjson", ".jsonl": "ndjson"}


def register(commands: Any) -> None:
    """Add `import-scorm` to the `lrs` command."""
    parser = commands.add_parser(
        "import-scorm",
        help="import legacy SCORM completion records (CSV or NDJSON) as xAPI statements",
        description="Import SCORM 1.2 / 2004 completion records from FILE, each row converted "
        "per the ADL xAPI SCORM Profile and stored through the LRS's write path. Statement ids "
        "are derived from each record, so importing the same file again stores nothing twice. "
        f"Fields: {', '.join(RECORD_FIELDS)} (see docs/scorm.md). Exit status: 0 all rows "
        "new or already present, 1 some rejected, 2 the file or the store failed.",
    )
    parser.add_argument("file", type=Path, metavar="FILE", help="the export to import")
    parser.add_argument(
        "--format",
        choices=("csv", "ndjson"),
        help="file format (default: from the extension, .csv / .ndjson / .jsonl)",
    )
    parser.add_argument(
        "--columns",
        metavar="MAP",
        help="the export's own headers: our=theirs pairs, comma-separated "
        "(learner_id=EmployeeID,course_id=Course), or a JSON file holding that object",
    )
    parser.add_argument(
        "--course-iri-base",
        required=True,
        metavar="IRI",
        help="IRI course ids are appended to (https://lms.example.com/courses/); ids that are "
        "IRIs already are kept, and SCO IRIs are <course IRI>/<sco id>",
    )
    parser.add_argument(
        "--home-page",
        metavar="IRI",
        help="account homePage of learner ids (default LRS_HRIS_HOME_PAGE); without one, "
        "learners are identified by email",
    )
    parser.add_argument(
        "--scorm-version", metavar="VERSION", help="version of rows that name none (1.2, 2004)"
    )
    parser.add_argument(
        "--timezone",
        default="UTC",
        metavar="ZONE",
        help="time zone of completion dates that carry none (default UTC), e.g. Europe/Paris",
    )
    parser.add_argument(
        "--batch-size",
        type=positive_int,
        default=DEFAULT_BATCH,
        metavar="N",
        help=f"statements per write (default {DEFAULT_BATCH}, at most LRS_MAX_BATCH_SIZE)",
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="convert and check every row, store nothing"
    )
    parser.add_argument(
        "--rejects", type=Path, metavar="FILE", help="write rejected rows (row, reason) as CSV"
    )
    parser.add_argument(
        "--authority-name",
        default=DEFAULT_AUTHORITY_NAME,
        metavar="NAME",
        help=f"name of the authority set on the statements (default {DEFAULT_AUTHORITY_NAME})",
    )
    parser.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="show a progress bar on stderr (default: when stderr is a terminal)",
    )
    parser.set_defaults(func=import_command)


def import_command(args: argparse.Namespace, config: ScormCommandConfig) -> int:
    """Run `lrs import-scorm`."""
    settings = config.core
    try:
        options = _options(args, config.scorm)
        file_format = args.format or _FORMATS.get(args.file.suffix.lower())
        if file_format is None:
            raise ScormDataError("--format", f"cannot tell the format of {args.file.name}")
        if not args.file.is_file():
            raise ScormDataError("FILE", f"no such file: {args.file}")
    except ScormDataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    async def job(backend: Backend) -> int:
        return await _import(args, settings, backend, options, file_format)

    return with_backend(settings, job)


def _finished(record: ImportRecord, importer: RecordImporter, outcome: str) -> ImportRun:
    """The run to record in the import history: rows, and the statements they made."""
    rows, statements = importer.counts, importer.statement_counts
    return record.finish(
        accepted=rows.new,
        present=rows.present,
        rejected=rows.rejected,
        outcome=outcome,
        details={"statements_new": statements.new, "statements_present": statements.present},
    )


async def _import(
    args: argparse.Namespace,
    settings: Settings,
    backend: Backend,
    options: RecordOptions,
    file_format: str,
) -> int:
    enabled = sys.stderr.isatty() if args.progress is None else args.progress
    progress = Progress(args.file.stat().st_size, enabled=enabled, describe=progress_bar)
    record = ImportRecord(SCORM, args.file.name)
    with (
        csv_rejects_file(args.rejects, REJECT_COLUMNS) as rejects,
        _open_text(args.file) as (text, position),
    ):
        importer = RecordImporter(
            statement_service(backend, settings),
            backend.statements,
            authority=import_authority(settings, args.authority_name),
            batch_size=min(args.batch_size, settings.max_batch_size),
            dry_run=args.dry_run,
            rejects=RejectLog(rejects, progress, record.rejections),
            progress=progress,
        )
        records = read_records(text, cast(Literal["csv", "ndjson"], file_format), options)
        try:
            await importer.run(records, position)
        except (ScormDataError, UnicodeDecodeError, csv.Error) as exc:
            progress.finish()
            print(f"error: {args.file.name}: {_file_problem(exc)}", file=sys.stderr)
            print(summary(importer.counts, importer.statement_counts, dry_run=args.dry_run))
            if not args.dry_run:
                await record_run(backend, _finished(record, importer, "failed"))
            return 2
        finally:
            progress.finish()
    if not args.dry_run:  # a dry run writes nothing, not even its record
        await record_run(backend, _finished(record, importer, "completed"))
    print(summary(importer.counts, importer.statement_counts, dry_run=args.dry_run))
    return 1 if importer.counts.rejected else 0


def _file_problem(exc: Exception) -> str:
    if isinstance(exc, UnicodeDecodeError):
        return "not UTF-8 text"
    return str(exc)


def _options(args: argparse.Namespace, scorm: ScormSettings) -> RecordOptions:
    try:
        zone = ZoneInfo(args.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ScormDataError("--timezone", f"unknown time zone {args.timezone!r}") from None
    return RecordOptions(
        course_iri_base=args.course_iri_base,
        home_page=args.home_page or scorm.hris_home_page,
        columns=parse_columns(args.columns) if args.columns else {},
        default_version=args.scorm_version,
        default_timezone=zone,
    )


def parse_columns(value: str) -> dict[str, str]:
    """`our=theirs,...` pairs, or the path of a JSON file holding `{"our": "theirs"}`."""
    try:
        return shared_parse_columns(value)
    except ColumnsError as exc:
        raise ScormDataError("--columns", str(exc)) from None


@contextlib.contextmanager
def _open_text(path: Path) -> Iterator[tuple[TextIO, Any]]:
    """The file as text (UTF-8, a BOM skipped) and a function telling the bytes read so far."""
    with path.open("rb") as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
        try:
            yield text, raw.tell
        finally:
            text.detach()
