"""JSON documents for machines; each carries a `schema` string naming its layout and version."""

from __future__ import annotations

import json
import math
from typing import Any

from ckptdiff.integrity import IntegrityReport
from ckptdiff.report.interface import (
    CHECK_SCHEMA,
    DIFF_SCHEMA,
    HISTORY_SCHEMA,
    INSPECT_SCHEMA,
    ArtifactInfo,
    CheckReport,
    DiffReport,
    HistoryReport,
    InspectReport,
    TensorRow,
    VariableFinding,
    selected_by_only,
)

PRETTY_LIMIT = 2000
"""Documents with more entries than this are written compact: Python's pretty-printer is pure Python."""


def _finite_or_none(x: Any) -> Any:
    if isinstance(x, float) and (math.isnan(x) or math.isinf(x)):
        return None
    return x


def _jsonable(value: Any) -> Any:
    """Convert metadata values (numpy scalars, tuples, bytes) into JSON types."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if hasattr(value, "item") and callable(value.item):
        return _jsonable(value.item())
    if isinstance(value, float):
        return _finite_or_none(value)
    if value is None or isinstance(value, (str, int, bool)):
        return value
    return str(value)


PRETTY_LIMIT = 2000
"""Documents with more entries than this are written compact: Python's pretty-printer is pure Python."""


def artifact_json(info: ArtifactInfo) -> dict[str, Any]:
    """The `artifact` object shared by every command's JSON."""
    return {
        "path": info.path,
        "format": info.format,
        "resolved": info.resolved,
        "notes": list(info.notes),
        "metadata": _jsonable(info.metadata),
    }


def init_json(verdict: Any) -> dict[str, Any] | None:
    """The `init` object: verdict, match, score, evidence."""
    if verdict is None:
        return None
    return {
        "verdict": verdict.verdict,
        "match": verdict.match,
        "score": _finite_or_none(verdict.score),
        "evidence": verdict.evidence,
        "basis": list(verdict.basis),
    }


def stats_json(stats: Any) -> dict[str, Any]:
    """TensorStats as JSON (undefined numbers as null)."""
    return {
        "count": stats.count,
        "mean": _finite_or_none(stats.mean),
        "std": _finite_or_none(stats.std),
        "min": _finite_or_none(stats.min),
        "max": _finite_or_none(stats.max),
        "zero_fraction": _finite_or_none(stats.zero_fraction),
        "nan_count": stats.nan_count,
        "inf_count": stats.inf_count,
    }


def integrity_json(report: IntegrityReport) -> dict[str, Any]:
    """The `integrity` object: {path, ok, method, checked, problems[{key, kind, detail}], notes[]}."""
    return {
        "path": report.path,
        "ok": report.ok,
        "method": report.method,
        "checked": report.checked,
        "problems": [{"key": p.key, "kind": p.kind, "detail": p.detail} for p in report.problems],
        "notes": list(report.notes),
    }


def add_integrity(doc: dict[str, Any], reports: tuple[IntegrityReport, ...]) -> dict[str, Any]:
    """The `integrity` field, present only with `--verify` (fields are only ever added within a version).

    One report (inspect, check) gives an object; two (diff) give `{"a": ..., "b": ...}`.
    """
    if len(reports) == 1:
        doc["integrity"] = integrity_json(reports[0])
    elif reports:
        doc["integrity"] = {side: integrity_json(r) for side, r in zip(("a", "b"), reports)}
    return doc


def dump(doc: dict[str, Any], items: int) -> str:
    """Indented JSON for documents people may read; compact (C-encoded, ~10x faster) past PRETTY_LIMIT items."""
    if items > PRETTY_LIMIT:
        return json.dumps(doc, separators=(",", ":")) + "\n"
    return json.dumps(doc, indent=2) + "\n"


def tensor_json(row: TensorRow) -> dict[str, Any]:
    """One tensor of an inspect report."""
    return {
        "key": row.key,
        "shape": list(row.shape),
        "dtype": row.dtype,
        "group": row.group,
        "nbytes": row.nbytes,
        "paths": list(row.paths),
        "model_path": row.model_path,
        "stats": None if row.stats is None else stats_json(row.stats),
        "init": init_json(row.init),
    }


_encode_str = json.encoder.encode_basestring_ascii
"""json's own (C) string encoder: what json.dumps writes for a str with ensure_ascii."""


def _compact(value: Any) -> str:
    """One JSON value as json.dumps(separators=(",", ":")) writes it, with non-finite floats as null: plain
    types take a direct path (json.dumps costs a few microseconds per call, paid 100,000 times)."""
    kind = type(value)
    if kind is float:
        return float.__repr__(value) if math.isfinite(value) else "null"
    if kind is int:
        return int.__repr__(value)
    if value is None:
        return "null"
    if isinstance(value, str):  # str and StrEnum members (json writes their value)
        return _encode_str(value)
    if kind is bool:
        return "true" if value else "false"
    if kind in (list, tuple):
        return "[" + ",".join(_compact(v) for v in value) + "]"
    return json.dumps(_jsonable(value), separators=(",", ":"))


def _number(value: Any) -> str:
    """_compact(value) for the numbers of a row (a float, an int or None), with the common types first."""
    if type(value) is float:
        return float.__repr__(value) if math.isfinite(value) else "null"
    if value is None:
        return "null"
    return _compact(value)


def _text(value: Any) -> str:
    """_compact(value) for a str (or StrEnum member) or None."""
    return _encode_str(value) if isinstance(value, str) else _compact(value)


def _flag(value: Any) -> str:
    """_compact(value) for a bool."""
    return "true" if value is True else "false" if value is False else _compact(value)


def _ints(values: Any) -> str:
    """_compact(values) for a shape (a tuple of ints) or None."""
    if type(values) is tuple and all(type(v) is int for v in values):
        return "[" + ",".join(map(int.__repr__, values)) + "]"
    return _compact(values)


def _strings(values: tuple[str, ...] | list[str]) -> str:
    """_compact(values) for a sequence of strings."""
    if not values:
        return "[]"
    if all(isinstance(v, str) for v in values):
        return "[" + ",".join(map(_encode_str, values)) + "]"
    return _compact(values)


_STATS_PLAIN = '{"count":%d,"mean":%r,"std":%r,"min":%r,"max":%r,"zero_fraction":%r,"nan_count":%d,"inf_count":%d}'
"""The stats object when every count is an int and every moment a finite float: %d and %r write what json does."""


def _plain_stats(stats: Any) -> bool:
    """True when _STATS_PLAIN writes these statistics exactly as json.dumps would (else the general path does)."""
    mean, std, low, high, zeros = stats.mean, stats.std, stats.min, stats.max, stats.zero_fraction
    return (
        type(mean) is float
        and type(std) is float
        and type(low) is float
        and type(high) is float
        and type(zeros) is float
        and type(stats.count) is int
        and type(stats.nan_count) is int
        and type(stats.inf_count) is int
        and math.isfinite(mean + std + low + high + zeros)  # a NaN, an infinity or an overflow: the general path
    )


def _compact_tensor(row: TensorRow) -> str:
    """tensor_json(row), written compact in one pass (byte for byte json.dumps: tests/report/test_json_compact.py)."""
    stats, init = row.stats, row.init
    if stats is None:
        stats_text = "null"
    elif _plain_stats(stats):
        stats_text = _STATS_PLAIN % (
            stats.count,
            stats.mean,
            stats.std,
            stats.min,
            stats.max,
            stats.zero_fraction,
            stats.nan_count,
            stats.inf_count,
        )
    else:
        stats_text = (
            f'{{"count":{_number(stats.count)},"mean":{_number(stats.mean)},"std":{_number(stats.std)},'
            f'"min":{_number(stats.min)},"max":{_number(stats.max)},"zero_fraction":{_number(stats.zero_fraction)},'
            f'"nan_count":{_number(stats.nan_count)},"inf_count":{_number(stats.inf_count)}}}'
        )
    init_text = _init_text(init)
    shape_text = _ints(row.shape)
    return (
        f'{{"key":{_encode_str(row.key)},"shape":{shape_text},"dtype":{_text(row.dtype)},'
        f'"group":{_text(row.group)},"nbytes":{_number(row.nbytes)},"paths":{_strings(row.paths)},'
        f'"model_path":{_text(row.model_path)},"stats":{stats_text},"init":{init_text}}}'
    )


def render_inspect_json(report: InspectReport) -> str:
    """Render an inspect report as a JSON document (schema `ckptdiff.inspect/1`)."""
    doc: dict[str, Any] = {
        "schema": INSPECT_SCHEMA,
        "artifact": artifact_json(report.artifact),
        "summary": {
            g.group: {"tensors": g.tensors, "elements": g.elements, "nbytes": g.nbytes} for g in report.summary
        },
    }
    if len(report.tensors) <= PRETTY_LIMIT:
        doc["tensors"] = [tensor_json(r) for r in report.tensors]
        return dump(add_integrity(doc, report.integrity), len(report.tensors))
    # Compact: the rows are written one by one, with no document of dictionaries built first.
    tail = add_integrity({}, report.integrity)
    parts = [json.dumps(doc, separators=(",", ":"))[:-1], ',"tensors":[']
    parts.append(",".join(map(_compact_tensor, report.tensors)))
    parts.append("]")
    if tail:
        parts.append("," + json.dumps(tail, separators=(",", ":"))[1:-1])
    parts.append("}\n")
    return "".join(parts)


PRETTY_LIMIT = 2000
"""Documents with more entries than this are written compact: Python's pretty-printer is pure Python."""


def render_check_json(report: CheckReport) -> str:
    """Render a check report as a JSON document (schema `ckptdiff.check/1`)."""
    doc = {
        "schema": CHECK_SCHEMA,
        "artifact": artifact_json(report.artifact),
        "model": {
            "spec": report.model.spec,
            "kind": report.model.kind,
            "name": report.model.name,
            "variables": report.model.variables,
            "notes": list(report.model.notes),
        },
        "loader": {
            "name": report.loader,
            "emulates": report.loader_description,
            "anchor": report.anchor,
            "outcome": report.outcome,
            "notes": list(report.notes),
        },
        "summary": dict(report.summary),
        "unexpected": [
            {"key": u.key, "group": u.group, "shape": list(u.shape), "dtype": u.dtype} for u in report.unexpected
        ],
        "partial": [
            {
                "object": p.object,
                "kind": p.kind,
                "restored": list(p.restored),
                "not_restored": list(p.not_restored),
                "detail": p.detail,
            }
            for p in report.partial
        ],
        "hints": [
            {
                "kind": h.kind,
                "message": h.message,
                "pairs": [list(p) for p in h.pairs],
                "assignment_map": h.assignment_map,
                "rename": h.rename,
            }
            for h in report.hints
        ],
        "fail_on": list(report.fail_on),
        "ok": report.ok,
    }
    doc = add_integrity(doc, report.integrity)
    items = len(report.variables) + len(report.unexpected)
    if items <= PRETTY_LIMIT:
        return dump(_with_variables(doc, [variable_json(v) for v in report.variables]), items)
    # Compact: the variables are written one by one, with no document of dictionaries built first.
    names = list(doc)
    cut = names.index("summary") + 1
    head = json.dumps({name: doc[name] for name in names[:cut]}, separators=(",", ":"))
    tail = json.dumps({name: doc[name] for name in names[cut:]}, separators=(",", ":"))
    rows = ",".join(map(_compact_variable, report.variables))
    return f'{head[:-1]},"variables":[{rows}],{tail[1:]}\n'


def _with_variables(doc: dict[str, Any], variables: list[Any]) -> dict[str, Any]:
    """The document with its `variables` list after `summary`, where the schema puts it."""
    out: dict[str, Any] = {}
    for name, value in doc.items():
        out[name] = value
        if name == "summary":
            out["variables"] = variables
    return out


def variable_json(v: VariableFinding) -> dict[str, Any]:
    """One variable of a check report."""
    return {
        "path": v.path,
        "status": v.status,
        "key": v.key,
        "shape": list(v.shape),
        "dtype": v.dtype,
        "entry_shape": None if v.entry_shape is None else list(v.entry_shape),
        "entry_dtype": v.entry_dtype,
        "trainable": v.trainable,
        "layer": v.layer,
        "group": v.group,
        "detail": v.detail,
        "init": init_json(v.init),
        "nonfinite": v.nonfinite,
        "misplaced": v.misplaced,
        "second_opinion": None
        if v.second_opinion is None
        else {"loader": v.second_opinion[0], "status": v.second_opinion[1], "key": v.second_opinion[2]},
    }


def _init_text(init: Any) -> str:
    if init is None:
        return "null"
    return (
        f'{{"verdict":{_text(init.verdict)},"match":{_text(init.match)},"score":{_number(init.score)},'
        f'"evidence":{_text(init.evidence)},"basis":{_strings(init.basis)}}}'
    )


def _compact_variable(v: VariableFinding) -> str:
    """variable_json(v), written compact in one pass (byte for byte json.dumps: tests/report/test_json_compact.py)."""
    second = v.second_opinion
    second_text = (
        "null"
        if second is None
        else f'{{"loader":{_text(second[0])},"status":{_text(second[1])},"key":{_text(second[2])}}}'
    )
    return (
        f'{{"path":{_text(v.path)},"status":{_text(v.status)},"key":{_text(v.key)},"shape":{_ints(v.shape)},'
        f'"dtype":{_text(v.dtype)},"entry_shape":{_ints(v.entry_shape)},"entry_dtype":{_text(v.entry_dtype)},'
        f'"trainable":{_flag(v.trainable)},"layer":{_text(v.layer)},"group":{_text(v.group)},'
        f'"detail":{_text(v.detail)},"init":{_init_text(v.init)},"nonfinite":{_flag(v.nonfinite)},'
        f'"misplaced":{_flag(v.misplaced)},"second_opinion":{second_text}}}'
    )


PRETTY_LIMIT = 2000
"""Documents with more entries than this are written compact: Python's pretty-printer is pure Python."""


def render_diff_json(report: DiffReport, only: str = "all") -> str:
    """Render a diff report as a JSON document (schema `ckptdiff.diff/1`)."""
    doc = {
        "schema": DIFF_SCHEMA,
        "a": artifact_json(report.a),
        "b": artifact_json(report.b),
        "tolerance": {"atol": report.atol, "rtol": report.rtol},
        "summary": dict(report.summary),
        "identical": report.identical,
        "outcome": report.outcome,
        "alignments_tried": list(report.alignments_tried),
        "alignment": dict(report.alignment),
        "notes": list(report.notes),
        "layers": [
            {"layer": lc.layer, "tensors": lc.tensors, "rel_l2": _finite_or_none(lc.rel_l2), "status": lc.status}
            for lc in report.layers
        ],
        "tensors": [
            {
                "name": t.name,
                "status": t.status,
                "aligned_by": t.aligned_by,
                "key_a": t.key_a,
                "key_b": t.key_b,
                "group": t.group,
                "shape_a": None if t.shape_a is None else list(t.shape_a),
                "shape_b": None if t.shape_b is None else list(t.shape_b),
                "dtype_a": t.dtype_a,
                "dtype_b": t.dtype_b,
                "max_abs_diff": _finite_or_none(t.max_abs_diff),
                "rel_l2": _finite_or_none(t.rel_l2),
                "cosine": _finite_or_none(t.cosine),
                "changed_fraction": t.changed_fraction,
                "nonfinite_mismatch": t.nonfinite_mismatch,
                "init": init_json(t.init),
            }
            for t in report.tensors
            if selected_by_only(t.status, only)
        ],
    }
    return dump(add_integrity(doc, report.integrity), len(report.tensors))


def render_history_json(report: HistoryReport) -> str:
    """Render a history report as a JSON document (schema `ckptdiff.history/1`)."""
    doc = {
        "schema": HISTORY_SCHEMA,
        "checkpoints": [{"path": c.path, "step": c.step} for c in report.checkpoints],
        "variables": [
            {
                "name": v.name,
                "key": v.key,
                "group": v.group,
                "shape": list(v.shape),
                "status": v.status,
                "changed": list(v.changed),
                "rel_change": [_finite_or_none(r) for r in v.rel_change],
                "last_changed": v.last_changed,
                "first_nonfinite": v.first_nonfinite,
            }
            for v in report.variables
        ],
        "layers": [
            {
                "layer": lh.layer,
                "never_changed": lh.never_changed,
                "stopped_changing": lh.stopped_changing,
                "changing": lh.changing,
            }
            for lh in report.layers
        ],
        "summary": report.summary,
        "fail_on": list(report.fail_on),
        "ok": report.ok,
        "notes": list(report.notes),
    }
    return dump(doc, len(report.variables))
