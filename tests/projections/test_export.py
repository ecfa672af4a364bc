"""Export and metrics helpers: record flattening, the progress bar, Prometheus text."""

from __future__ import annotations

import csv
import io

import orjson
from prometheus_client.parser import text_string_to_metric_families

from projections.export import CSV_COLUMNS, ProgressBar, csv_row, export_item
from projections.metrics import render_metrics
from projections.store.base import StoredRecord

RECORD = {
    "member_id": "E1",
    "activity_id": "https://lms.example.com/c,1",
    "email": None,
    "learning_completed": True,
    "completed_at": "2024-03-01T10:00:00.000000Z",
    "success": "passed",
    "score": {"value": 85.0, "raw": 17, "min": 0, "max": 20, "latest": {"value": 60.0}},
    "badge_awarded": [{"badge_id": "b", "metadata": {"say": 'a "quote"'}}],
    "enrollment_state": "completed",
    "certificate_ref": None,
    "last_activity_at": "2024-03-01T10:00:00.000000Z",
    "provenance": {"statements": ["s1"]},
    "mapping_version": "1",
}


def test_export_item_and_csv_row() -> None:
    item = export_item(
        StoredRecord("E1", RECORD["activity_id"], 3, 2, RECORD, 1_709_287_200_000_000)
    )
    assert item["version"] == 2 and item["updated_at"] == "2024-03-01T10:00:00.000000Z"
    row = dict(zip(CSV_COLUMNS, csv_row(item), strict=True))
    assert row["learning_completed"] == "true" and row["email"] == ""
    assert (row["score"], row["score_raw"], row["score_max"], row["latest_score"]) == (
        85.0,
        17,
        20,
        60.0,
    )
    buffer = io.StringIO()
    csv.writer(buffer).writerow(csv_row(item))
    [parsed] = list(csv.reader(io.StringIO(buffer.getvalue())))
    back = dict(zip(CSV_COLUMNS, parsed, strict=True))
    assert back["activity_id"] == "https://lms.example.com/c,1"
    assert orjson.loads(back["badge_awarded"]) == RECORD["badge_awarded"]


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar() -> None:
    out = Terminal()
    bar = ProgressBar(4, stream=out, width=8)
    for _ in range(4):
        bar.advance()
    bar.finish()
    assert out.getvalue().endswith("\r[########] 4/4 records\n")
    assert "[####....] 2/4" in out.getvalue()
    empty = Terminal()
    ProgressBar(0, stream=empty).finish()
    assert "0/0 records" in empty.getvalue()


def test_progress_off_a_terminal_is_one_summary_line() -> None:
    out = io.StringIO()  # a pipe or a log file
    bar = ProgressBar(500, stream=out)
    for _ in range(500):
        bar.advance()
    bar.finish()
    assert out.getvalue() == "exported 500/500 records\n"


def test_metrics_text() -> None:
    text = render_metrics(
        {
            "statements_awaiting_projection": 3,
            "statements_unmatched": 0,
            "statements_applied": 10,
            "newest_applied_stored_at": "2024-03-01T10:00:00.250000Z",
            "lag_seconds": 1.5,
            "webhook_dead_letters": 0,
        }
    )
    assert (
        "# TYPE lrs_projection_statements_awaiting gauge\nlrs_projection_statements_awaiting 3"
        in text
    )
    samples = {s.name: s.value for f in text_string_to_metric_families(text) for s in f.samples}
    assert samples["lrs_projection_last_applied_stored_timestamp_seconds"] == 1709287200.25
    assert samples["lrs_projection_lag_seconds"] == 1.5
    assert samples["lrs_projection_statements_applied_total"] == 10
    assert "lrs_webhook_deliveries_pending" not in samples  # unknown: no sample
    assert "# TYPE lrs_webhook_deliveries_pending gauge" in text
