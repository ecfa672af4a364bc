"""The mapping rows compiled, once, into one extractor per source system.

`Mapping.extract` runs for every statement the worker projects. Interpreting the rows there
(re-deciding per row and per statement how to read its path, which transforms to run, which
type check applies, whether an earlier row already filled its target) cost most of the
projection's CPU. Here each row becomes a closure with its path reader, transform chain and
type check bound in advance, rows are grouped by target field in file order, and an extractor
runs the groups, stopping at the first required target left without a value.

The results are those of applying the rows one by one in file order, as
`projections.mapping` describes them (tests/projections/test_extractor.py compares the two):
the same values, the same keys in the same order.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from typing import Any

from projections.transforms import TransformContext

# A row compiled: the value it gives for one statement (or identity row), or None.
RowFunc = Callable[[Any, TransformContext], Any]
# Reads a row's raw value from its source (a statement, or an identity CSV row).
Reader = Callable[[Any], Any]


class CompiledRow:
    """What the extractor needs of a row: where its value is, how to transform and check it.

    `head` is the first key of the row's path (None: `rest` reads the whole source) and `rest`
    reads the remainder from that key's value (None: the value itself). Rows with the same
    `read_key` read the same thing: the extractor reads it once per statement.
    """

    __slots__ = (
        "head",
        "many",
        "read_key",
        "rejects",
        "required",
        "rest",
        "target_field",
        "value",
    )

    def __init__(
        self,
        target_field: str,
        *,
        required: bool,
        many: bool,
        read_key: Hashable,
        head: str | None,
        rest: Reader | None,
        transforms: Sequence[Callable[[Any, TransformContext], Any]],
        check: Callable[[Any], bool],
        rejects: Callable[[Any, TransformContext], bool] | None = None,
    ) -> None:
        self.target_field = target_field
        self.rejects = rejects  # no value from a raw one it names: that raw value is unusable
        self.required = required
        self.many = many
        self.read_key = read_key
        self.head = head
        self.rest = rest
        self.value: RowFunc = _value_func(tuple(transforms), check)


def _value_func(
    transforms: tuple[Callable[[Any, TransformContext], Any], ...], check: Callable[[Any], bool]
) -> RowFunc:
    """Raw value → the transforms' result if it passes the target's type check, else None.

    Called only with a raw value that is not None (a missing value gives nothing anyway).
    """
    if not transforms:
        return lambda raw, ctx: raw if check(raw) else None
    if len(transforms) == 1:
        (func,) = transforms

        def one(raw: Any, ctx: TransformContext) -> Any:
            value = func(raw, ctx)
            return value if value is not None and check(value) else None

        return one

    def chain(raw: Any, ctx: TransformContext) -> Any:
        value = raw
        for transform in transforms:
            if value is None:
                return None
            value = transform(value, ctx)
        return value if value is not None and check(value) else None

    return chain


def key_reader(keys: tuple[str, ...]) -> Reader | None:
    """A reader for a path of dict keys only (None for no keys: the value itself)."""
    if not keys:
        return None
    if len(keys) == 1:
        (k1,) = keys
        return lambda value: value.get(k1) if isinstance(value, dict) else None

    def read_n(value: Any) -> Any:
        for key in keys:
            if not isinstance(value, dict):
                return None
            value = value.get(key)
        return value

    return read_n


def apply_row(row: CompiledRow, raw: Any, ctx: TransformContext, current: Any) -> Any:
    """The target's value after this row, given its value before (`current`)."""
    if not row.many:
        if current not in (None, []):
            return current
        return None if raw is None else row.value(raw, ctx)
    items = raw if isinstance(raw, list) else [] if raw is None else [raw]
    values = (row.value(item, ctx) for item in items if item is not None)
    found = [v for v in values if v is not None]
    merged = current if isinstance(current, list) else [] if current is None else [current]
    return merged + [v for v in found if v not in merged]


class Extractor:
    """The compiled rows of one source system: source → target field → value.

    Per call: each distinct source value is read once (and not at all below a top-level key
    the source lacks), then each target takes its first row whose value passes (`one`
    targets) or every row's values (targets with `many` rows); the required targets come
    first, so a statement lacking one stops there.
    """

    def __init__(self, rows: Sequence[CompiledRow]) -> None:
        slots: dict[Hashable, int] = {}
        heads: dict[str | None, list[tuple[int, Reader | None]]] = {}
        for row in rows:
            if row.read_key not in slots:
                slots[row.read_key] = len(slots)
                heads.setdefault(row.head, []).append((slots[row.read_key], row.rest))
        self._size = len(slots)
        self._heads = tuple((head, tuple(entries)) for head, entries in heads.items())
        groups: dict[str, list[CompiledRow]] = {}
        for row in rows:
            groups.setdefault(row.target_field, []).append(row)
        plan = [
            (
                target,
                any(r.required for r in chain),
                any(r.many for r in chain),
                tuple((slots[r.read_key], r) for r in chain),
            )
            for target, chain in groups.items()
        ]
        self._plan = tuple(p for p in plan if p[1]) + tuple(p for p in plan if not p[1])
        self._order = tuple(target for target, *_rest in plan)

    def read(self, source: Any) -> list[Any]:
        """Every distinct value the rows read from the source (None where absent)."""
        reads: list[Any] = [None] * self._size
        for head, entries in self._heads:
            if head is None:
                top = source
            elif isinstance(source, dict):
                top = source.get(head)
                if top is None:
                    continue
            else:
                continue
            for slot, rest in entries:
                reads[slot] = top if rest is None else rest(top)
        return reads

    def __call__(
        self,
        source: Any,
        ctx: TransformContext,
        rejected: list[tuple[str, Any]] | None = None,
    ) -> dict[str, Any]:
        """Target field → value (file order of first rows); empty when a required one lacks.

        With `rejected`, each `one` target left without a value although a rejecting row
        (`CompiledRow.rejects`) read a raw value appends (target, that raw value) to it.
        """
        reads = self.read(source)
        found: dict[str, Any] = {}
        for target, required, many, rows in self._plan:
            value = None
            unusable = None
            if many:
                for slot, row in rows:
                    value = apply_row(row, reads[slot], ctx, value)
            else:
                for slot, row in rows:
                    raw = reads[slot]
                    if raw is not None:
                        value = row.value(raw, ctx)
                        if value is not None:
                            break
                        if unusable is None and row.rejects is not None and row.rejects(raw, ctx):
                            unusable = raw
            if value is None or value == []:
                if required:
                    return {}
                if unusable is not None and rejected is not None:
                    rejected.append((target, unusable))
                continue
            found[target] = value
        if len(found) < 2:
            return found
        return {t: found[t] for t in self._order if t in found}
