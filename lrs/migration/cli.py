"""`lrs import-statements` and `lrs export-statements`: moving statements between LRSs.

The import reads another LRS's export (NDJSON or a JSON array, optionally gzip-compressed) as
a stream (`lrs.migration.input`) and hands it to the statement service in batches
(`lrs.migration.importer`); the export writes NDJSON in ascending stored order
(`lrs.migration.export`). What an export of this LRS writes, an import reads back unchanged:
with `--keep-stored --keep-authority`, exporting the imported store gives the same bytes.

Exit status of the import: 0 when every statement is new or already present, 1 when some were
rejected, 2 when the file cannot be read or the store fails (the error is printed; what was
stored stays stored, and re-running the import completes it).
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from lrs.cli_support import positive_int, with_backend
from lrs.config import Config
from lrs.errors import LRSError
from lrs.importing import ImportCounts, NdjsonRejects, Progress, RejectLog, import_authority
from lrs.importing.history import ImportRecord, record_run
from lrs.migration.export import export_target, write_statements
from lrs.migration.importer import StatementImporter
from lrs.migration.input import ExportReader, ImportFileError
from lrs.services.factory import statement_service
from lrs.settings import Settings
from lrs.store.base import Backend
from lrs.store.import_runs import STATEMENTS, ImportRun
from lrs.xapi.timestamps import timestamp_us

DEFAULT_BATCH = 500
DEFAULT_AUTHORITY_NAME = "lrs-import"


def register(commands: Any) -> None:
    """Add `import-statements` and `export-statements` to the `lrs` command."""
    _register_import(commands)
    _register_export(commands)


def _register_import(commands: Any) -> None:
    parser = commands.add_parser(
        "import-statements",
        help="import statements from another LRS's export (NDJSON or JSON array, gzip or not)",
        description="Import statements from FILE through the LRS's write path, keeping their "
        "ids. FILE holds NDJSON (one statement per line) or a JSON array of statements, "
        "optionally gzip-compressed (recognised by content, not by name). Re-running an import "
        "stores nothing twice. Exit status: 0 all imported or already present, 1 some rejected, "
        "2 the file or the store failed.",
    )
    parser.add_argument("file", type=Path, metavar="FILE", help="the export to import")
    parser.add_argument(
        "--batch-size",
        type=positive_int,
        metavar="N",
        default=DEFAULT_BATCH,
        help=f"statements per write (default {DEFAULT_BATCH}, at most LRS_MAX_BATCH_SIZE)",
    )
    parser.add_argument(
        "--keep-stored",
        action="store_true",
        help="keep each statement's own `stored` time instead of the time of the import",
    )
    parser.add_argument(
        "--keep-authority",
        action="store_true",
        help="keep each statement's own `authority` instead of the import authority",
    )
    parser.add_argument(
        "--authority-name",
        default=DEFAULT_AUTHORITY_NAME,
        metavar="NAME",
        help="name of the authority set on imported statements (those without one, with "
        "--keep-authority): an Agent named NAME whose account is homePage "
        "LRS_AUTHORITY_HOME_PAGE (default: the public base URL), name NAME "
        f"(default {DEFAULT_AUTHORITY_NAME})",
    )
    parser.add_argument(
        "--xapi-version",
        choices=("1.0.3", "2.0.0"),
        help="rules for statements without a `version` (default LRS_DEFAULT_XAPI_VERSION); "
        "a statement with one is validated under its own version's rules",
    )
    parser.add_argument(
        "--rejects",
        type=Path,
        metavar="FILE",
        help='write each rejected statement to FILE as an NDJSON line {"line", "index", "id", '
        '"reason"} (without it, the first few are printed)',
    )
    parser.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="show progress on stderr (default: when stderr is a terminal)",
    )
    parser.set_defaults(func=_import_command)


def _register_export(commands: Any) -> None:
    parser = commands.add_parser(
        "export-statements",
        help="export every statement as NDJSON (voided ones included), oldest stored first",
        description="Write every stored statement, voided statements and the statements "
        "voiding them included, as NDJSON in ascending stored order: the format "
        "`lrs import-statements` reads. Attachment content is not exported.",
    )
    parser.add_argument("--output", "-o", type=Path, metavar="FILE", help="default: stdout")
    parser.add_argument("--gzip", action="store_true", help="gzip-compress the output")
    parser.add_argument(
        "--since",
        type=_timestamp,
        metavar="TS",
        help="only statements stored after TS (ISO 8601; exclusive, as in xAPI queries)",
    )
    parser.add_argument(
        "--until",
        type=_timestamp,
        metavar="TS",
        help="only statements stored at or before TS (ISO 8601; inclusive)",
    )
    parser.set_defaults(func=_export_command)


def _timestamp(text: str) -> int:
    try:
        return timestamp_us(text)
    except LRSError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 timestamp: {text!r}") from None


def _import_command(args: argparse.Namespace, config: Config) -> int:
    settings = config.core
    if args.batch_size > settings.max_batch_size:
        raise ImportFileError(
            f"--batch-size {args.batch_size} is above LRS_MAX_BATCH_SIZE "
            f"({settings.max_batch_size})"
        )
    reader = ExportReader(args.file)
    try:
        with _rejects_file(args.rejects) as rejects:
            return with_backend(
                settings, lambda backend: _import(args, settings, backend, reader, rejects)
            )
    except KeyboardInterrupt:
        print(
            "\ninterrupted: what was stored stays stored; run the same import again to complete it",
            file=sys.stderr,
        )
        return 130
    finally:
        reader.close()


async def _import(
    args: argparse.Namespace,
    settings: Settings,
    backend: Backend,
    reader: ExportReader,
    rejects: NdjsonRejects | None,
) -> int:
    enabled = sys.stderr.isatty() if args.progress is None else args.progress
    progress = Progress(reader.total_bytes, enabled=enabled)
    record = ImportRecord(STATEMENTS, args.file.name)
    importer = StatementImporter(
        statement_service(backend, settings),
        authority=import_authority(settings, args.authority_name),
        default_version=args.xapi_version or settings.default_xapi_version,
        batch_size=args.batch_size,
        keep_stored=args.keep_stored,
        keep_authority=args.keep_authority,
        rejects=RejectLog(rejects, progress, record.rejections),
        progress=progress,
    )
    try:
        counts = await importer.run(reader)
    except LRSError:
        progress.finish()
        print(f"import stopped: {importer.counts.summary()} so far", file=sys.stderr)
        await record_run(backend, _finished(record, importer.counts, "failed"))
        raise
    progress.finish()
    await record_run(backend, _finished(record, counts, "completed"))
    where = f" (see {args.rejects})" if args.rejects and counts.rejected else ""
    print(f"imported {args.file}: {counts.summary()}{where}")
    return 1 if counts.rejected else 0


def _finished(record: ImportRecord, counts: ImportCounts, outcome: str) -> ImportRun:
    return record.finish(
        accepted=counts.new, present=counts.present, rejected=counts.rejected, outcome=outcome
    )


@contextlib.contextmanager
def _rejects_file(path: Path | None) -> Iterator[NdjsonRejects | None]:
    if path is None:
        yield None
        return
    try:
        out = path.open("wb")
    except OSError as exc:
        raise ImportFileError(f"cannot write --rejects {path}: {exc.strerror or exc}") from None
    with out:
        yield NdjsonRejects(out)


def _export_command(args: argparse.Namespace, config: Config) -> int:
    settings = config.core

    async def job(backend: Backend) -> int:
        try:
            with export_target(args.output, compress=args.gzip) as out:
                count = await write_statements(
                    backend.statements, out, since_us=args.since, until_us=args.until
                )
        except OSError as exc:
            raise LRSError(
                f"cannot write {args.output or 'stdout'}: {exc.strerror or exc}"
            ) from None
        print(f"exported {count} statements to {args.output or 'stdout'}", file=sys.stderr)
        return 0

    return with_backend(settings, job)
