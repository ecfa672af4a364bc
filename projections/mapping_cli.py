"""`lrs mapping check|diff|deploy`: stage a mapping change before deploying it.

lrs mapping check FILE [--verbs FILE] [--json]
    validate a mapping CSV (and a verb table) without opening anything; exit 0 valid,
    2 invalid (the message names the file row)
lrs mapping diff NEW.csv [--verbs FILE] [--sample N] [--seed S] [--json]
    project the stored statements (or a seeded sample of N) with NEW beside the records the
    current mapping made; per field, how many records would change, with examples. Writes
    nothing (`projections.mapping_diff`); exit 0 (2: NEW is invalid)
lrs mapping deploy [--page N] [--json]
    after installing a new mapping (LRS_MARKETPLACE_MAPPING): re-project every record of
    another mapping version, a page at a time, with a progress line on a terminal, then
    reconcile and fix (recorded as a run, trigger `rollout`). Resumable: run it again
    (`projections.rollout`); exit 0 (1: drift left after it)
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from projections.facts import Projector
from projections.mapping import load_mapping
from projections.mapping_diff import MappingDiff, MappingDiffer
from projections.reconcile_cli import retry_stale_quality
from projections.rollout import MappingRollout, RolloutProgress
from projections.service import Projection
from projections.settings import ProjectionSettings
from projections.transforms import MappingError, load_verb_table

Runner = Callable[[Callable[[Projection, argparse.Namespace], Any]], Any]


class _Config(Protocol):
    @property
    def projection(self) -> ProjectionSettings: ...


def register(
    commands: Any, run: Runner, json_flag: Callable[[argparse.ArgumentParser], None]
) -> None:
    """Add `lrs mapping check|diff|deploy`."""
    mapping = commands.add_parser("mapping", help="check, diff or deploy a mapping")
    sub = mapping.add_subparsers(dest="action", required=True, metavar="ACTION")
    check = sub.add_parser("check", help="validate a mapping CSV (and verb table); starts nothing")
    check.add_argument("file", type=Path)
    check.add_argument("--verbs", type=Path, help="a verb table to check with it")
    json_flag(check)
    check.set_defaults(func=_check)
    diff = sub.add_parser("diff", help="what a new mapping would change in the records")
    diff.add_argument("file", type=Path, metavar="NEW.csv")
    diff.add_argument("--verbs", type=Path, help="the verb table to use with it (default: current)")
    diff.add_argument("--sample", type=int, help="project a random sample of N statements")
    diff.add_argument("--seed", type=int, default=1, help="the sample's seed")
    json_flag(diff)
    diff.set_defaults(func=_guarded(run(_diff)))
    deploy = sub.add_parser(
        "deploy", help="re-project the records of older mapping versions (resumable)"
    )
    deploy.add_argument("--page", type=_positive, default=500, help="records per page")
    json_flag(deploy)
    deploy.set_defaults(func=run(_deploy))


def _positive(text: str) -> int:
    if not text.isascii() or not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of at least 1")
    return int(text)


async def _deploy(projection: Projection, args: argparse.Namespace) -> int:
    version = projection.projector.mapping.version
    rollout = MappingRollout(
        projection.stores,
        projection.worker,
        projection.reconcile_runs,
        version,
        page=args.page,
    )
    result = await rollout.deploy(RolloutProgress())
    quality = await retry_stale_quality(projection)
    report = result.report
    assert report is not None and result.run is not None
    lines = [
        f"mapping version {version}: {result.pending} records of older versions",
        f"re-projected {result.reprojected}: changed {result.changed} (with events), "
        f"unchanged {result.quiet} (saved quietly), removed {result.removed}",
        *_held(result.held),
        f"then reconciled: drift {report.drift}, fixed {report.fixed}, "
        f"flagged {len(report.flagged)}; run {result.run.id} recorded",
        quality,
    ]
    data = {**result.to_json(), "reconcile": report.to_json()}
    print(json.dumps(data, indent=2) if args.json else "\n".join(lines))
    return 0 if report.unresolved == 0 else 1


def _check(args: argparse.Namespace, config: _Config) -> int:
    try:
        mapping = load_mapping(args.file)
        verbs = load_verb_table(args.verbs) if args.verbs else None
    except MappingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    systems = {s: len(mapping.rows_for(s)) for s in ("xapi", "hris")}
    data = {
        "file": str(args.file),
        "version": mapping.version,
        "rows": systems,
        "scope_rows": len(mapping.scope_rules),
        "verbs": len(verbs.rules) if verbs else None,
    }
    text = (
        f"{args.file}: valid, version {mapping.version}; {systems['xapi']} xapi rows, "
        f"{systems['hris']} hris rows, {len(mapping.scope_rules)} scope rows"
        + (f"; verb table {args.verbs}: {len(verbs.rules)} verbs" if verbs else "")
    )
    print(json.dumps(data, indent=2) if args.json else text)
    return 0


def _guarded(command: Callable[[argparse.Namespace, _Config], int]) -> Callable[..., int]:
    """Check NEW before opening anything: an invalid file is exit 2, the row named."""

    def guarded(args: argparse.Namespace, config: _Config) -> int:
        try:
            load_mapping(args.file)
            if args.verbs:
                load_verb_table(args.verbs)
        except MappingError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        if args.sample is not None and args.sample < 1:
            print("error: --sample must be at least 1", file=sys.stderr)
            return 2
        return command(args, config)

    return guarded


async def _diff(projection: Projection, args: argparse.Namespace) -> int:
    overrides: dict[str, Any] = {"mapping_path": args.file}
    if args.verbs:
        overrides["verbs_path"] = args.verbs
    new = Projector.from_settings(projection.settings.with_overrides(**overrides))
    differ = MappingDiffer(projection.statements, projection.stores, projection.projector, new)
    report = await differ.diff(args.sample, args.seed)
    print(json.dumps(report.to_json(), indent=2) if args.json else _text(report, args))
    return 0


def _held(count: int) -> list[str]:
    if not count:
        return []
    return [f"held for review {count}: learning would move between members (lrs reconcile flagged)"]


def _text(report: MappingDiff, args: argparse.Namespace) -> str:
    scope = f"a sample of {report.statements}" if args.sample else f"all {report.statements}"
    lines = [
        f"mapping {report.current_version} -> {report.new_version}, {scope} statements: "
        f"{report.records_compared} records compared",
        f"would change {report.changed}, create {report.created}, remove {report.removed}",
    ]
    for name, count in sorted(report.fields.items(), key=lambda kv: (-kv[1], kv[0])):
        lines.append(f"  {name}: {count} records")
        for example in report.examples.get(name, []):
            lines.append(f"    {_example(example)}")
    for kind in ("created", "removed"):
        for example in report.examples.get(kind, []):
            lines.append(f"  {kind}: {example['member_id']} {example['activity_id']}")
    lines.append("nothing was written")
    return "\n".join(lines)


def _example(example: dict[str, Any]) -> str:
    old, new = json.dumps(example["from"]), json.dumps(example["to"])
    clip = 50
    old = old if len(old) <= clip else old[: clip - 3] + "..."
    new = new if len(new) <= clip else new[: clip - 3] + "..."
    return f"{example['member_id']} {example['activity_id']}: {old} -> {new}"
