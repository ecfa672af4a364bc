"""`lrs mapping check|diff` through the CLI, on a SQLite data dir."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from lrs.cli import main
from tests.projections.conftest import hris_actor, statement
from tests.projections.test_cli import store
from tests.projections.test_quality import edx_learner_day
from tests.projections.test_quality_api import data_dir  # noqa: F401 (the fixture)

SHIPPED = Path(__file__).resolve().parents[2] / "spec" / "marketplace-mapping.csv"
VERBS = SHIPPED.with_name("marketplace-verbs.csv")
SCORE_ROW = next(line for line in SHIPPED.read_text().splitlines() if ",score,score," in line)


def cli_json(capsys: pytest.CaptureFixture[str], *argv: str) -> Any:
    assert main([*argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_check_validates_without_starting_anything(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["mapping", "check", str(SHIPPED), "--verbs", str(VERBS)]) == 0
    out = capsys.readouterr().out
    assert "valid, version 2" in out and "15 scope rows" in out and "verbs" in out
    data = cli_json(capsys, "mapping", "check", str(SHIPPED))
    assert data["version"] == "2" and data["rows"]["hris"] == 3
    bad = write(tmp_path / "bad.csv", SHIPPED.read_text().replace("verb.id,include", "verb.id,in"))
    assert main(["mapping", "check", str(bad)]) == 2
    assert "bad.csv row 39: scope target_field must be include or exclude" in (
        capsys.readouterr().err
    )
    bad_verbs = write(tmp_path / "verbs.csv", VERBS.read_text().replace(",yes,", ",maybe,", 1))
    assert main(["mapping", "check", str(SHIPPED), "--verbs", str(bad_verbs)]) == 2
    assert "verbs.csv row" in capsys.readouterr().err
    assert not (tmp_path / "lrs.sqlite").exists() and not list(tmp_path.glob("*.sqlite*"))


def test_diff_counts_the_records_a_new_mapping_changes_and_writes_nothing(
    data_dir: Path,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    store(
        data_dir,
        statement("passed", result={"score": {"raw": 7, "min": 0, "max": 10}}),
        statement("passed", actor=hris_actor("E2"), result={"score": {"scaled": 0.5}}),
        statement("attempted", actor=hris_actor("E3")),
        *edx_learner_day(),
    )
    assert main(["worker", "--once", "--no-webhooks"]) == 0
    text = SHIPPED.read_text().replace("# version: 2", "# version: 3")
    new = write(
        data_dir / "new.csv",
        text.replace(SCORE_ROW + "\n", "")  # no score any more
        + "scope,object.definition.type,include,pattern,*cmi.interaction,,,,\n",  # problems
    )
    capsys.readouterr()
    report = cli_json(capsys, "mapping", "diff", str(new))
    assert report["current_version"] == "2" and report["new_version"] == "3"
    assert report["statements"] == 11
    assert report["records_created"] == 1  # the Open edX problem
    assert report["records_removed"] == 0
    assert report["fields"] == {"score": 3}  # E1's and E2's course, E1's Open edX course
    assert report["records_changed"] == 3
    example = report["examples"]["score"][0]
    assert example["from"]["value"] in (70.0, 50.0, 85.0) and example["to"] is None
    assert "problem" in report["examples"]["created"][0]["activity_id"]
    # nothing written: the current mapping still finds no drift
    assert main(["reconcile"]) == 0
    capsys.readouterr()
    assert main(["mapping", "diff", str(new)]) == 0
    out = capsys.readouterr().out
    assert "would change 3, create 1, remove 0" in out and "score: 3 records" in out


def test_diff_of_a_sample(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: F811
    store(data_dir, *(statement("completed", actor=hris_actor(f"E{n}")) for n in range(6)))
    assert main(["worker", "--once", "--no-webhooks"]) == 0
    same = write(data_dir / "same.csv", SHIPPED.read_text().replace("# version: 2", "# version: 9"))
    capsys.readouterr()
    report = cli_json(capsys, "mapping", "diff", str(same), "--sample", "3", "--seed", "7")
    assert report["statements"] == 3 and report["records_compared"] == 3
    assert report["records_changed"] == 0 and report["fields"] == {}  # the version alone
    assert main(["mapping", "diff", str(same), "--sample", "0"]) == 2
    bad = write(data_dir / "bad.csv", "nothing\n")
    assert main(["mapping", "diff", str(bad)]) == 2
    assert "no '# version: ...' line" in capsys.readouterr().err


def test_deploy_reprojects_the_older_records_and_reconcile_shows_a_rollout_not_drift(
    data_dir: Path,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store(
        data_dir,
        statement("passed", result={"score": {"raw": 7, "min": 0, "max": 10}}),
        statement("passed", actor=hris_actor("E2"), result={"score": {"scaled": 0.5}}),
        *(statement("completed", actor=hris_actor(f"E{n}")) for n in (3, 4, 5)),
    )
    assert main(["worker", "--once", "--no-webhooks"]) == 0
    text = SHIPPED.read_text().replace("# version: 2", "# version: 3")
    new = write(data_dir / "v3.csv", text.replace(SCORE_ROW + "\n", ""))
    monkeypatch.setenv("LRS_MARKETPLACE_MAPPING", str(new))
    capsys.readouterr()
    assert main(["reconcile"]) == 0  # a planned rollout is not drift
    out = capsys.readouterr().out
    assert "drift 0 (0.0%)" in out and "mapping version rollout pending: 5 records" in out
    assert cli_json(capsys, "reconcile")["mapping_rollout_pending"] == 5

    from projections.worker import ProjectionWorker

    real, calls = ProjectionWorker.reapply, []

    async def failing(self: ProjectionWorker, ids: Any, **kwargs: Any) -> None:
        calls.append(ids)
        if len(calls) == 2:
            raise RuntimeError("cut short")
        await real(self, ids, **kwargs)

    monkeypatch.setattr(ProjectionWorker, "reapply", failing)
    with pytest.raises(RuntimeError, match="cut short"):
        main(["mapping", "deploy", "--page", "2"])
    monkeypatch.setattr(ProjectionWorker, "reapply", real)
    capsys.readouterr()
    assert "rollout pending: 3 records" in _reconcile_out(capsys)
    done = cli_json(capsys, "mapping", "deploy", "--page", "2")
    assert (done["records_pending"], done["records_reprojected"]) == (3, 3)
    assert done["records_changed"] + done["records_unchanged"] == 3
    assert done["drift_after"] == 0 and done["reconcile"]["mapping_rollout_pending"] == 0
    assert main(["mapping", "deploy"]) == 0  # again: nothing left
    captured = capsys.readouterr()
    assert "0 records of older versions" in captured.out and "re-projected 0" in captured.out
    assert captured.err == ""  # no progress line off a terminal
    after = cli_json(capsys, "reconcile")
    assert (after["drift"], after["mapping_rollout_pending"]) == (0, 0)
    history = cli_json(capsys, "reconcile", "history")
    assert "rollout" in [r["trigger"] for r in history["runs"]]


def _reconcile_out(capsys: pytest.CaptureFixture[str]) -> str:
    assert main(["reconcile"]) == 0
    return capsys.readouterr().out
