"""One self-contained HTML page per report: inline SVG charts, an inline script that sorts and filters the
tables, nothing loaded from the network. For inspect and check, each tensor's histogram with the counts its
matched initializer predicts; for diff, a change bar per tensor; for history, the change over the run per
variable and a summary per layer; for audit, the fleet's table."""

from __future__ import annotations

import html
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from ckptdiff.report.formatting import number, shape_text
from ckptdiff.report.interface import CheckReport, DiffReport, Histogram, HistoryReport, InspectReport

_CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#1d2329}
h1{font-size:1.4em} h2{font-size:1.1em;margin-top:1.6em}
.meta{color:#555} .alert{border-left:4px solid #c77c00;background:#fff6e5;padding:.4em .8em;margin:.3em 0}
table{border-collapse:collapse;margin:.5em 0} th,td{padding:3px 8px;border-bottom:1px solid #e3e6e8;text-align:left;
vertical-align:middle} th{cursor:pointer;background:#f3f5f7;position:sticky;top:0} td.num{text-align:right}
tr[data-status=fresh] td.status,tr[data-status=missing] td.status,tr[data-status=error] td.status,
tr[data-status=never_changed] td.status,tr[data-status=shape_mismatch] td.status,tr[data-status=changed] td.status,
tr[data-status=findings] td.status,tr[data-status=nonfinite] td.status{background:#fde2e1;color:#8a1c14}
tr[data-status=trained] td.status,tr[data-status=matched] td.status,tr[data-status=ok] td.status,
tr[data-status=same] td.status,tr[data-status=changing] td.status{background:#e3f5e5;color:#1f6b2a}
tr[data-status=inconclusive] td.status,tr[data-status=stopped_changing] td.status{background:#f1f1f1;color:#555}
input.filter{margin:.3em 0;padding:3px 6px;width:24em} .evidence{max-width:38em;font-size:12px;color:#444}
svg{display:block}
"""

_SCRIPT = """
document.querySelectorAll('table.report').forEach(function (table) {
  var body = table.tBodies[0];
  table.querySelectorAll('th').forEach(function (th, col) {
    th.addEventListener('click', function () {
      var rows = Array.prototype.slice.call(body.rows);
      var asc = th.dataset.sort !== 'asc';
      rows.sort(function (a, b) {
        var x = a.cells[col].dataset.value || a.cells[col].textContent;
        var y = b.cells[col].dataset.value || b.cells[col].textContent;
        var nx = parseFloat(x), ny = parseFloat(y);
        var c = (!isNaN(nx) && !isNaN(ny)) ? nx - ny : x.localeCompare(y);
        return asc ? c : -c;
      });
      rows.forEach(function (r) { body.appendChild(r); });
      th.dataset.sort = asc ? 'asc' : 'desc';
    });
  });
  var box = document.getElementById(table.id + '-filter');
  if (box) box.addEventListener('input', function () {
    var q = box.value.toLowerCase();
    Array.prototype.forEach.call(body.rows, function (r) {
      r.style.display = r.textContent.toLowerCase().indexOf(q) >= 0 ? '' : 'none';
    });
  });
});
// A link can carry a filter and a sort: report.html#filter=dense&sort=tensors:4:desc
var params = new URLSearchParams(location.hash.slice(1));
if (params.get('filter') !== null) {
  document.querySelectorAll('input.filter').forEach(function (box) {
    box.value = params.get('filter'); box.dispatchEvent(new Event('input'));
  });
}
if (params.get('sort')) {
  var parts = params.get('sort').split(':');
  var th = document.querySelectorAll('#' + parts[0] + ' th')[parseInt(parts[1], 10)];
  if (th) { th.click(); if (parts[2] === 'desc') th.click(); }
}
document.body.dataset.ready = '1';
"""


class Raw(str):
    """Markup that goes into the page as it is (an SVG the renderer built)."""


@dataclass
class Table:
    id: str
    heading: str
    columns: Sequence[str]
    rows: Sequence[Sequence[object]]
    statuses: list[str]
    filterable: bool = True


def _cell(value: object, column: str) -> str:
    if isinstance(value, Raw):
        return f"<td>{value}</td>"
    text = "" if value is None else str(value)
    klass = ' class="status"' if column in ("status", "init", "verdict") else ""
    if column in ("evidence", "detail"):
        klass = ' class="evidence"'
    return f"<td{klass}>{html.escape(text)}</td>"


def _table(t: Table) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in t.columns)
    body = "".join(
        f'<tr data-status="{html.escape(status)}">' + "".join(_cell(v, c) for v, c in zip(row, t.columns)) + "</tr>"
        for row, status in zip(t.rows, t.statuses)
    )
    box = f'<input class="filter" id="{t.id}-filter" placeholder="filter rows (any text)">' if t.filterable else ""
    return (
        f"<h2>{html.escape(t.heading)}</h2>{box}"
        f'<table class="report" id="{t.id}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'
    )


def page(title: str, meta: Sequence[str], alerts: Sequence[str], tables: Sequence[Table]) -> str:
    """The whole document."""
    metas = "".join(f'<div class="meta">{html.escape(m)}</div>' for m in meta)
    notes = "".join(f'<div class="alert">{html.escape(a)}</div>' for a in alerts)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>"
        f"<h1>{html.escape(title)}</h1>{metas}{notes}"
        + "".join(_table(t) for t in tables)
        + f"<script>{_SCRIPT}</script></body></html>\n"
    )


def histogram_svg(h: Histogram | None, width: int = 180, height: int = 48) -> Raw | str:
    """Bars of the sample's counts, the family's predicted counts as a line over them."""
    if h is None:
        return ""
    peak = max(max(h.counts), max(h.expected) if h.expected else 0) or 1
    n = len(h.counts)
    bar = width / n
    bars = "".join(
        f'<rect x="{i * bar:.1f}" y="{height - c / peak * height:.1f}" width="{max(bar - 0.5, 0.5):.1f}" '
        f'height="{c / peak * height:.1f}" fill="#6b8fb5"/>'
        for i, c in enumerate(h.counts)
    )
    line = ""
    if h.expected:
        points = " ".join(f"{(i + 0.5) * bar:.1f},{height - e / peak * height:.1f}" for i, e in enumerate(h.expected))
        line = f'<polyline points="{points}" fill="none" stroke="#d1495b" stroke-width="1.5"/>'
    label = f"{h.sampled} values, {number(h.edges[0])}..{number(h.edges[-1])}"
    if h.family:
        label += f"; line: {h.family}"
    return Raw(
        f'<svg class="histogram" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img">'
        f"<title>{html.escape(label)}</title>{bars}{line}</svg>"
    )


def bar_svg(fraction: float | None, width: int = 120, height: int = 12) -> Raw | str:
    """A horizontal bar for a relative change (log-scaled past 1)."""
    if fraction is None or not math.isfinite(fraction):
        return ""
    length = min(fraction, 1.0) * width if fraction <= 1 else width
    return Raw(
        f'<svg class="change" width="{width}" height="{height}">'
        f'<rect width="{width}" height="{height}" fill="#eef1f4"/>'
        f'<rect width="{length:.1f}" height="{height}" fill="#d1495b"/><title>{fraction:.4g}</title></svg>'
    )


def sparkline_svg(values: Sequence[float | None], width: int = 160, height: int = 28) -> Raw | str:
    """The relative change of each consecutive pair, over the run."""
    finite = [v for v in values if v is not None and math.isfinite(v)]
    if not values:
        return ""
    peak = max(finite) if finite and max(finite) > 0 else 1.0
    step = width / max(len(values), 1)
    bars = "".join(
        f'<rect x="{i * step:.1f}" y="{height - (v or 0) / peak * height:.1f}" width="{max(step - 1, 1):.1f}" '
        f'height="{(v or 0) / peak * height:.1f}" fill="{"#6b8fb5" if v else "#d1495b"}"/>'
        if v is not None
        else f'<rect x="{i * step:.1f}" y="{height - 2}" width="{max(step - 1, 1):.1f}" height="2" fill="#999"/>'
        for i, v in enumerate(values)
    )
    return Raw(f'<svg class="sparkline" width="{width}" height="{height}">{bars}</svg>')


def _layer(name: str) -> str:
    return name.rsplit("/", 1)[0] if "/" in name else name


def render_inspect_html(report: InspectReport) -> str:
    rows: list[list[object]] = []
    statuses: list[str] = []
    layers: Counter[tuple[str, str]] = Counter()
    for r in report.tensors:
        verdict = str(r.init.verdict) if r.init is not None else ""
        rows.append(
            [
                r.model_path,
                shape_text(r.shape),
                r.dtype,
                r.group,
                number(r.stats.mean) if r.stats else "",
                number(r.stats.std) if r.stats else "",
                verdict,
                r.init.evidence if r.init is not None else "",
                histogram_svg(r.histogram),
            ]
        )
        statuses.append(verdict or "none")
        if r.group == "model":
            layers[(_layer(r.model_path), verdict)] += 1
    summary = _layer_table({k: v for k, v in layers.items()}, ("fresh", "trained", "inconclusive"))
    tensors = Table(
        "tensors",
        "Tensors",
        ("tensor", "shape", "dtype", "group", "mean", "std", "init", "evidence", "values (line: initializer)"),
        rows,
        statuses,
    )
    meta = [f"artifact: {report.artifact.path} ({report.artifact.format})"]
    return page(f"ckptdiff inspect {report.artifact.path}", meta, report.artifact.notes, [summary, tensors])


def _layer_table(counts: dict[tuple[str, str], int], kinds: tuple[str, ...]) -> Table:
    layers = sorted({layer for layer, _ in counts})
    rows: list[list[object]] = [[layer, *(counts.get((layer, k), 0) for k in kinds)] for layer in layers]
    statuses = [next((k for k in kinds if counts.get((layer, k))), "none") for layer in layers]
    return Table("layers", "Summary per layer", ("layer", *kinds), rows, statuses)


def render_check_html(report: CheckReport) -> str:
    rows: list[list[object]] = []
    statuses: list[str] = []
    layers: Counter[tuple[str, str]] = Counter()
    for v in report.variables:
        verdict = str(v.init.verdict) if v.init is not None else ""
        status = "fresh" if verdict == "fresh" and v.group == "model" else str(v.status)
        rows.append(
            [v.path, str(v.status), v.key or "", shape_text(v.shape), verdict, v.detail, histogram_svg(v.histogram)]
        )
        statuses.append(status)
        layers[(v.layer or _layer(v.path), str(v.status))] += 1
    kinds = tuple(dict.fromkeys(str(v.status) for v in report.variables)) or ("matched",)
    alerts = [h.message for h in report.hints] + list(report.notes)
    meta = [
        f"artifact: {report.artifact.path} ({report.artifact.format})",
        f"loader: {report.loader}",
        "summary: "
        + ", ".join(f"{k} {n}" for k, n in report.summary.items())
        + (" -> OK" if report.ok else " -> FAIL"),
    ]
    tables = [
        _layer_table(dict(layers), kinds),
        Table(
            "variables",
            "Variables",
            ("variable", "status", "artifact key", "shape", "init", "detail", "values"),
            rows,
            statuses,
        ),
    ]
    return page(f"ckptdiff check {report.artifact.path}", meta, alerts, tables)


def render_diff_html(report: DiffReport) -> str:
    rows = [
        [
            t.name,
            str(t.status),
            shape_text(t.shape_a or t.shape_b or ()),
            number(t.rel_l2),
            bar_svg(t.rel_l2),
            number(t.cosine),
        ]
        for t in report.tensors
    ]
    meta = [f"a: {report.a.path}", f"b: {report.b.path}", f"outcome: {report.outcome}"]
    layers = Table(
        "layers",
        "Change per layer",
        ("layer", "tensors", "rel L2", "status"),
        [[lc.layer, lc.tensors, number(lc.rel_l2), lc.status] for lc in report.layers],
        [str(lc.status) for lc in report.layers],
    )
    tensors = Table(
        "tensors",
        "Tensors",
        ("tensor", "status", "shape", "rel L2", "change", "cosine"),
        rows,
        [str(t.status) for t in report.tensors],
    )
    return page(f"ckptdiff diff {report.a.path} {report.b.path}", meta, report.notes, [layers, tensors])


def render_history_html(report: HistoryReport) -> str:
    rows = [
        [
            v.name,
            shape_text(v.shape),
            str(v.status),
            "".join({True: "x", False: ".", None: "-"}[c] for c in v.changed),
            "-" if v.last_changed is None else v.last_changed,
            sparkline_svg(v.rel_change),
        ]
        for v in report.variables
    ]
    per_layer: dict[str, list[float | None]] = {}
    for v in report.variables:
        if v.group == "model":
            series = per_layer.setdefault(_layer(v.name), [0.0] * len(v.rel_change))
            for i, r in enumerate(v.rel_change):
                series[i] = max(series[i] or 0.0, r or 0.0)
    layers = Table(
        "layers",
        "Change over the run, per layer (largest relative change of its variables, per pair)",
        ("layer", "never changed", "stopped changing", "changing", "change over steps"),
        [
            [lh.layer, lh.never_changed, lh.stopped_changing, lh.changing, sparkline_svg(per_layer.get(lh.layer, []))]
            for lh in report.layers
        ],
        [
            "never_changed" if lh.never_changed else "stopped_changing" if lh.stopped_changing else "changing"
            for lh in report.layers
        ],
    )
    variables = Table(
        "variables",
        "Variables",
        ("variable", "shape", "status", "changed per pair", "last change", "change over steps"),
        rows,
        [str(v.status) for v in report.variables],
    )
    meta = [f"[{i}] {c.path}" for i, c in enumerate(report.checkpoints)]
    meta.append(
        "summary: " + ", ".join(f"{k} {n}" for k, n in report.summary.items()) + (" -> OK" if report.ok else " -> FAIL")
    )
    return page("ckptdiff history", meta, report.notes, [layers, variables])


def render_audit_html(executor: str, records: list[dict]) -> str:
    rows = [
        [
            r["path"],
            r["format"] or "-",
            r["status"],
            r["counts"].get("tensors", ""),
            len(r["findings"]),
            r["error"] or "; ".join(f"{f['kind']}: {f.get('path') or f['key']}" for f in r["findings"][:5]),
        ]
        for r in records
    ]
    table = Table(
        "artifacts",
        "Artifacts",
        ("artifact", "format", "status", "tensors", "findings", "detail"),
        rows,
        [r["status"] for r in records],
    )
    counts = Counter(r["status"] for r in records)
    meta = [f"executor: {executor}", ", ".join(f"{k} {counts.get(k, 0)}" for k in ("ok", "findings", "error"))]
    return page("ckptdiff audit", meta, [], [table])
