"""The compiler: a rule table checked once and turned into its vectorised engine.

`compiled(table)` parses every expression of the table (quantities, rules), checks names, types
and the dependency order of derived quantities, and keeps the typed trees. Its `decide` labels a
frame with polars expressions built once from those trees: no Python runs per row. The reason
lists are built once per distinct combination of fired rules (a few thousand at most) and
gathered.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import polars as pl
import pyarrow as pa

from factory.domains.rules import ranking
from factory.domains.rules.expr import (
    Node,
    RuleError,
    literal,
    parse,
    round_expr,
    suggest,
    to_polars,
)
from factory.domains.rules.model import OPS, UNITS, Quantity, Rule, RuleTable

#: Rules per table: a row's fired rules are one int64 bit mask.
MAX_RULES = 62

#: (kind, name, field) -> the field path errors name; the default names table positions.
PathOf = Callable[[str, str, str], str]


def _table_path(kind: str, name: str, field: str) -> str:
    return f"{kind}.{name}.{field}"


@dataclass(frozen=True)
class QuantityCode:
    """A derived quantity's parsed expression and applicability."""

    quantity: Quantity
    expr: Node
    applies: Node | None


@dataclass(frozen=True)
class RuleCode:
    """A rule's parsed condition, applicability and threshold."""

    rule: Rule
    when: Node
    applies: Node | None
    threshold: Node | None
    #: the weight of a supporting or listed rule (None for the others).
    points: Node | None = None


class Compiled:
    """A checked rule table: parsed expressions, derived quantities in order, the engine."""

    def __init__(self, table: RuleTable, path_of: PathOf = _table_path) -> None:
        self.table = table
        self.path_of = path_of
        self.kinds = _names(table, path_of)
        self.derived = _derived(table, self.kinds, path_of)
        self.rules = tuple(_rule_code(table, r, self.kinds, path_of) for r in table.rules)
        _check_rules(table, path_of)
        self._masks: dict[tuple[int, tuple[float, ...]], tuple[int, list[str]]] = {}
        #: every name an expression of the table reads.
        self._read = set().union(
            *(c.expr.names() | (c.applies.names() if c.applies else set()) for c in self.derived),
            *(
                r.when.names()
                | (r.applies.names() if r.applies else set())
                | (r.threshold.names() if r.threshold else set())
                for r in self.rules
            ),
        )
        #: the distinct points quantities, and each point rule's code -> its column's index.
        self._point_columns = list(dict.fromkeys(str(r.points) for r in table.rules if r.points))
        self._point_of = {
            r.code: self._point_columns.index(str(r.points)) for r in table.rules if r.points
        }

    # -- polars ---------------------------------------------------------------------------

    def _ref_builder(self) -> Callable[[str], pl.Expr]:
        inline: dict[str, pl.Expr] = {}
        params = self.table.params

        def ref(name: str) -> pl.Expr:
            if name in params:
                return literal(params[name].value)
            if name in inline:
                return inline[name]
            return pl.col(name)

        for code in self.derived:
            if not code.quantity.output:
                inline[code.quantity.name] = self._quantity_expr(code, ref)
        return ref

    def _quantity_expr(self, code: QuantityCode, ref: Callable[[str], pl.Expr]) -> pl.Expr:
        helpers = self.table.helpers
        expr = to_polars(code.expr, ref, helpers, self.table.params)
        if code.quantity.round is not None:
            expr = round_expr(expr, code.quantity.round)
        if code.applies is not None:
            expr = pl.when(
                to_polars(code.applies, ref, helpers, self.table.params).fill_null(False)
            ).then(expr)
        return expr

    def decide(self, profiles: pl.DataFrame) -> pl.DataFrame:
        """Labels `profiles`: the derived quantities (rounded), `decision`, `reason_codes`
        (severity order, at most max_reasons) and `policy_version`."""
        # Inputs only a text cites (fraud: the history's length) may be absent.
        missing = [
            q.name
            for q in self.table.quantities.values()
            if q.expr is None and q.name in self._read and q.name not in profiles.columns
        ]
        if missing:
            raise KeyError(f"profiles lack the input columns {missing}")
        ref = self._ref_builder()
        frame = profiles.lazy()
        # Derived quantities are in dependency order: an output quantity is written before any
        # later one reads it by name; helper (output=False) ones are inlined by `ref`.
        for code in self.derived:
            if code.quantity.output:
                frame = frame.with_columns(self._quantity_expr(code, ref).alias(code.quantity.name))
        if self.table.explained:
            return self._explained(frame, ref)
        helpers = self.table.helpers
        mask = pl.lit(0, dtype=pl.Int64)
        for bit, rule in enumerate(self.rules):
            fires = to_polars(rule.when, ref, helpers, self.table.params)
            if rule.applies is not None:
                fires = to_polars(rule.applies, ref, helpers, self.table.params) & fires
            mask = mask + pl.when(fires.fill_null(False)).then(
                pl.lit(1 << bit, dtype=pl.Int64)
            ).otherwise(0)
        labelled = frame.with_columns(mask.alias("__rule_mask")).collect()
        masks = labelled["__rule_mask"].to_numpy()
        if self.table.scored:
            decision, reasons = self._scored_labels(labelled)
        else:
            decision, reasons = self._labels(masks)
        return labelled.drop("__rule_mask").with_columns(
            decision=decision,
            reason_codes=reasons,
            policy_version=pl.lit(self.table.version, dtype=pl.String),
        )

    def _explained(self, frame: pl.LazyFrame, ref: Callable[[str], pl.Expr]) -> pl.DataFrame:
        """`decide` for a table with supporting or listed rules (factory.domains.rules.ranking
        semantics): the rules' firing and weights as numpy matrices, the reasons and lists as
        flat (row, rule) entries sorted once (the weights are continuous, so one outcome per
        distinct combination would be one per row)."""
        table, helpers, params = self.table, self.table.helpers, self.table.params
        columns = []
        for bit, rc in enumerate(self.rules):
            fires = to_polars(rc.when, ref, helpers, params)
            if rc.applies is not None:
                fires = to_polars(rc.applies, ref, helpers, params) & fires
            columns.append(fires.fill_null(False).alias(f"__fires{bit}"))
            if rc.points is not None:
                points = to_polars(rc.points, ref, helpers, params).cast(pl.Float64)
                columns.append(points.fill_null(0.0).alias(f"__points{bit}"))
        extra = frame.with_columns(columns).collect()
        labelled = extra.select(c for c in extra.columns if not c.startswith("__"))
        n, rules = labelled.height, table.rules
        fired = np.zeros((n, len(rules)), dtype=bool)
        weight = np.zeros((n, len(rules)))
        for bit, rc in enumerate(self.rules):
            fired[:, bit] = extra[f"__fires{bit}"].to_numpy()
            if rc.points is not None:
                weight[:, bit] = extra[f"__points{bit}"].to_numpy()
        kept = fired.copy()
        index = {rule.code: bit for bit, rule in enumerate(rules)}
        for bit, rule in enumerate(rules):
            for code in rule.supersedes:
                kept[:, index[code]] &= ~fired[:, bit]
        tiers = table.tiers
        default = tiers.index(table.default)
        decision = np.full(n, default, dtype=np.int64)
        for tier in reversed(range(len(tiers))):
            deciding = [b for b, r in enumerate(rules) if r.outcome == tiers[tier]]
            if tier != default and deciding:
                decision[kept[:, deciding].any(axis=1)] = tier
        on_cache: dict[tuple[str, ...], np.ndarray] = {}

        def on(supports: tuple[str, ...]) -> np.ndarray:
            if supports not in on_cache:
                on_cache[supports] = np.isin(decision, [tiers.index(t) for t in supports])
            return on_cache[supports]

        # Reason entries, appended in table order: (rows, group, -weight, rule); deciding
        # rules are group 0, supporting ones 1, fallbacks 2.
        entries: list[tuple[np.ndarray, int, np.ndarray, int]] = []
        for bit, rule in enumerate(rules):
            if not rule.reason or rule.fallback:
                continue
            if rule.outcome != table.default:
                rows = np.flatnonzero(kept[:, bit])
                entries.append((rows, 0, np.zeros(len(rows)), bit))
            elif rule.supports:
                rows = np.flatnonzero(kept[:, bit] & on(rule.supports))
                entries.append((rows, 1, -weight[rows, bit], bit))
        named = np.zeros(n, dtype=bool)
        for rows, *_ in entries:
            named[rows] = True
        waiting = ~named & (decision != default)
        for bit, rule in enumerate(rules):
            if rule.fallback and rule.reason and rule.supports:
                rows = np.flatnonzero(waiting & kept[:, bit] & on(rule.supports))
                waiting[rows] = False
                entries.append((rows, 2, np.zeros(len(rows)), bit))
        codes = pl.Series([r.code for r in rules], dtype=pl.String)
        reasons = _ranked_codes(n, entries, codes, table.max_reasons)
        lists = {}
        for name in table.lists():
            members = [
                (np.flatnonzero(kept[:, b]), 0, -weight[kept[:, b], b], b)
                for b, r in enumerate(rules)
                if r.listed == name
            ]
            lists[name] = _ranked_codes(n, members, codes, None)
        return labelled.with_columns(
            **lists,
            decision=pl.Series([*tiers], dtype=pl.String).gather(decision),
            reason_codes=reasons,
            policy_version=pl.lit(table.version, dtype=pl.String),
        )

    def outcome(self, mask: int, points: tuple[float, ...] = ()) -> tuple[int, list[str]]:
        """(tier index, reason codes) for one combination of fired rules (bit i = rule i) and,
        in a scored table, the values of its points quantities (in `_point_columns` order)."""
        key = (mask, points)
        known = self._masks.get(key)
        if known is not None:
            return known
        table = self.table
        fired = [r for bit, r in enumerate(table.rules) if mask >> bit & 1]
        scored = {code: points[i] for code, i in self._point_of.items()} if points else {}
        decision, codes = ranking.outcome(table, fired, scored)
        result = (table.tiers.index(decision), codes)
        self._masks[key] = result
        return result

    def _scored_labels(self, labelled: pl.DataFrame) -> tuple[pl.Series, pl.Series]:
        # The reasons of a scored table depend on the points too: one outcome per distinct
        # (fired rules, points) row, found by a hash join (np.unique over rows sorts void
        # views, ~10x slower).
        keys = labelled.select("__rule_mask", *self._point_columns)
        combos = keys.unique(maintain_order=True)
        position = keys.join(
            combos.with_row_index("__combo"),
            on=keys.columns,
            how="left",
            nulls_equal=True,
            maintain_order="left",
        )["__combo"].to_numpy()
        outcomes = [
            self.outcome(int(mask), tuple(0.0 if x is None else float(x) for x in points))
            for mask, *points in combos.iter_rows()
        ]
        return self._gather(outcomes, position)

    def _labels(self, masks: np.ndarray) -> tuple[pl.Series, pl.Series]:
        present, position = _distinct(masks)
        outcomes = [self.outcome(int(m)) for m in present]
        return self._gather(outcomes, position)

    def _gather(
        self, outcomes: list[tuple[int, list[str]]], position: np.ndarray
    ) -> tuple[pl.Series, pl.Series]:
        tiers = pl.Series([self.table.tiers[t] for t, _ in outcomes], dtype=pl.String)
        # Flat codes and offsets: a Series from a list of lists is built value by value (~7 us
        # an outcome, and a shard of rows has hundreds of distinct outcomes).
        count = np.fromiter((len(c) for _, c in outcomes), dtype=np.int64, count=len(outcomes))
        flat = pl.Series([code for _, c in outcomes for code in c], dtype=pl.String)
        codes = ragged(count, flat)
        gather = pl.Series(position.reshape(-1), dtype=pl.Int64)
        return tiers.gather(gather), codes.gather(gather)


#: Masks below this are counted in a table of that size; larger ones are sorted by np.unique.
_DENSE_MASKS = 1 << 20


def _distinct(masks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """np.unique(masks, return_inverse=True): the distinct masks in order and each row's
    position among them. A mask holds one bit per rule, so it is usually small: a table of
    seen masks finds them without sorting a million rows."""
    if masks.size == 0 or masks.min() < 0 or masks.max() >= _DENSE_MASKS:
        return np.unique(masks, return_inverse=True)
    seen = np.zeros(int(masks.max()) + 1, dtype=bool)
    seen[masks] = True
    return np.flatnonzero(seen).astype(masks.dtype), (np.cumsum(seen) - 1)[masks]


def _ranked_codes(
    n: int,
    entries: list[tuple[np.ndarray, int, np.ndarray, int]],
    codes: pl.Series,
    limit: int | None,
) -> pl.Series:
    """A List(String) column from flat (rows, group, key, rule) entries appended in table
    order: each row's codes sorted by group, then key, then table order (the sort is stable),
    at most `limit`."""
    row = np.concatenate([e[0] for e in entries] or [np.zeros(0, dtype=np.int64)])
    group = np.concatenate([np.full(len(e[0]), e[1]) for e in entries] or [np.zeros(0)])
    key = np.concatenate([e[2] for e in entries] or [np.zeros(0)])
    rule = np.concatenate([np.full(len(e[0]), e[3]) for e in entries] or [np.zeros(0)])
    order = np.lexsort((key, group, row))
    row, rule = row[order], rule[order].astype(np.int64)
    count = np.bincount(row, minlength=n)
    if limit is not None:
        starts = np.cumsum(count) - count
        keep = np.arange(len(row)) - starts[row] < limit
        row, rule = row[keep], rule[keep]
        count = np.bincount(row, minlength=n)
    return ragged(count, codes.gather(pl.Series(rule, dtype=pl.Int64)))


def ragged(count: np.ndarray, values: pl.Series) -> pl.Series:
    """A list column from flat entries grouped by row: row i holds the next count[i] values
    (through Arrow offsets: polars' concat_list + drop_nulls is ~25x slower)."""
    offsets = np.zeros(len(count) + 1, dtype=np.int64)
    np.cumsum(count, out=offsets[1:])
    # From the buffer, not pa.array(offsets): that one imports pandas (~0.2 s at start).
    starts = pa.Array.from_buffers(pa.int64(), len(offsets), [None, pa.py_buffer(offsets)])
    array = pa.LargeListArray.from_arrays(starts, values.to_arrow())
    return pl.Series(array)


def _names(table: RuleTable, path_of: PathOf) -> dict[str, str]:
    """name -> kind for every quantity and param; parses derived quantities' kinds lazily."""
    kinds: dict[str, str] = {}
    for name, param in table.params.items():
        kinds[name] = param.kind
    for name, quantity in table.quantities.items():
        if quantity.unit not in UNITS:
            raise RuleError(
                path_of("quantities", name, "unit"),
                f"unknown unit {quantity.unit!r}{suggest(quantity.unit, sorted(UNITS))}; "
                f"expected one of {', '.join(sorted(UNITS))}",
            )
        if name in kinds:
            raise RuleError(path_of("quantities", name, "name"), f"{name!r} is also a param")
        kinds[name] = quantity.kind
    return kinds


def _derived(table: RuleTable, kinds: dict[str, str], path_of: PathOf) -> tuple[QuantityCode, ...]:
    """Derived quantities parsed and ordered so each comes after what it reads."""
    derived = {n: q for n, q in table.quantities.items() if q.expr is not None}
    parsed: dict[str, tuple[Node, Node | None]] = {}
    for name, quantity in derived.items():
        expr = parse(
            str(quantity.expr),
            kinds,
            path=path_of("quantities", name, "expr"),
            helpers=table.helpers,
        )
        if expr.kind != quantity.kind:
            raise RuleError(
                path_of("quantities", name, "expr"),
                f"the expression gives {_kind_word(expr.kind)} but the unit "
                f"{quantity.unit!r} needs {_kind_word(quantity.kind)}",
            )
        applies = None
        if quantity.applies is not None:
            applies = parse(
                quantity.applies,
                kinds,
                path=path_of("quantities", name, "applies"),
                helpers=table.helpers,
                expect="bool",
            )
        parsed[name] = (expr, applies)
    order: list[str] = []
    state: dict[str, int] = {}

    def visit(name: str, trail: list[str]) -> None:
        if state.get(name) == 2:
            return
        if state.get(name) == 1:
            cycle = trail[trail.index(name) :]
            raise RuleError(
                path_of("quantities", trail[0], "expr"),
                "cycle among derived quantities: " + " -> ".join(cycle),
            )
        state[name] = 1
        expr, applies = parsed[name]
        reads = expr.names() | (applies.names() if applies else set())
        for dep in sorted(reads & parsed.keys()):
            visit(dep, [*trail, dep])
        state[name] = 2
        order.append(name)

    for name in derived:
        visit(name, [name])
    return tuple(QuantityCode(derived[n], *parsed[n]) for n in order)


def _rule_code(table: RuleTable, rule: Rule, kinds: dict[str, str], path_of: PathOf) -> RuleCode:
    def at(field: str) -> str:
        return path_of("rules", rule.code, field)

    when = parse(rule.when, kinds, path=at("when"), helpers=table.helpers, expect="bool")
    applies = None
    if rule.applies is not None:
        applies = parse(
            rule.applies, kinds, path=at("applies"), helpers=table.helpers, expect="bool"
        )
    threshold = None
    if rule.quantity is not None and rule.quantity not in table.quantities:
        raise RuleError(
            at("quantity"),
            f"unknown quantity {rule.quantity!r}{suggest(rule.quantity, table.quantities)}",
        )
    if rule.op is not None and rule.op not in OPS:
        raise RuleError(
            at("op"), f"unknown operator {rule.op!r}; expected one of {' '.join(sorted(OPS))}"
        )
    if rule.threshold is not None:
        threshold = parse(rule.threshold, kinds, path=at("threshold"), helpers=table.helpers)
        if rule.quantity is not None and threshold.kind != kinds[rule.quantity]:
            raise RuleError(
                at("threshold"),
                f"cannot compare {_kind_word(kinds[rule.quantity])} {rule.quantity!r} with "
                f"{_kind_word(threshold.kind)}",
            )
    points = None
    if rule.points is not None and (rule.supports or rule.listed is not None):
        points = parse(rule.points, kinds, path=at("points"), helpers=table.helpers, expect="num")
    return RuleCode(rule, when, applies, threshold, points)


def _check_rules(table: RuleTable, path_of: PathOf) -> None:
    if table.default not in table.tiers:
        raise RuleError("default", f"{table.default!r} is not a tier")
    if len(table.rules) > MAX_RULES:
        raise RuleError("rules", f"at most {MAX_RULES} rules, got {len(table.rules)}")
    codes = [r.code for r in table.rules]
    for rule in table.rules:
        if codes.count(rule.code) > 1:
            raise RuleError(path_of("rules", rule.code, "code"), f"duplicate code {rule.code!r}")
        _check_support(table, rule, path_of)
        if rule.points is not None and not rule.supports and rule.listed is None:
            quantity = table.quantities.get(rule.points)
            if (
                quantity is None
                or quantity.kind != "num"
                or quantity.expr is None
                or not quantity.output
            ):
                raise RuleError(
                    path_of("rules", rule.code, "points"),
                    f"{rule.points!r} is not a derived numeric quantity the engine writes"
                    f"{suggest(rule.points, table.quantities)}",
                )
        # A rule with points may sit at the default tier: it then only scores; a supporting or
        # listed one explains or lists without deciding.
        at_default = (
            rule.outcome == table.default
            and rule.points is None
            and not rule.supports
            and rule.listed is None
        )
        if rule.outcome not in table.tiers or at_default:
            tiers = [t for t in table.tiers if t != table.default]
            raise RuleError(
                path_of("rules", rule.code, "outcome"),
                f"unknown outcome {rule.outcome!r}{suggest(rule.outcome, tiers)}; "
                f"expected one of {', '.join(tiers)}",
            )
        for code in rule.supersedes:
            if code not in codes:
                raise RuleError(
                    path_of("rules", rule.code, "supersedes"),
                    f"unknown code {code!r}{suggest(code, codes)}",
                )


def _check_support(table: RuleTable, rule: Rule, path_of: PathOf) -> None:
    def fail(field: str, message: str) -> RuleError:
        return RuleError(path_of("rules", rule.code, field), message)

    tiers = [t for t in table.tiers if t != table.default]
    for tier in rule.supports:
        if tier not in tiers:
            raise fail(
                "supports",
                f"unknown tier {tier!r}{suggest(tier, tiers)}; expected one of {', '.join(tiers)}",
            )
    if rule.supports and rule.outcome != table.default:
        raise fail(
            "outcome",
            f"a rule that supports a tier decides nothing: its outcome is {table.default!r}",
        )
    if rule.supports and table.scored:
        raise fail("supports", "a table with an additive score cannot have supporting rules")
    if rule.fallback and not rule.supports:
        raise fail("fallback", "a fallback rule must name the tiers it supports")
    if rule.listed is not None and (rule.listed in table.quantities or rule.listed in table.params):
        raise fail("listed", f"{rule.listed!r} is already a quantity or param")


def _kind_word(kind: str) -> str:
    return {"num": "a number", "bool": "a true/false value", "cat": "a category"}[kind]


_CACHE: dict[int, tuple[RuleTable, Compiled]] = {}


def compiled(table: RuleTable) -> Compiled:
    """The compiled form of `table`, built once per table object (a small cache)."""
    hit = _CACHE.get(id(table))
    if hit is not None and hit[0] is table:
        return hit[1]
    code = Compiled(table)
    if len(_CACHE) >= 64:
        _CACHE.pop(next(iter(_CACHE)))
    _CACHE[id(table)] = (table, code)
    return code
