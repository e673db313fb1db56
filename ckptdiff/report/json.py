"""JSON documents for machines; each carries a `schema` string naming its layout and version."""

from __future__ import annotations

import json
import math
from dataclasses import asdict
from typing import Any

from ckptdiff.report.interface import INSPECT_SCHEMA, ArtifactInfo, InspectReport, TensorRow


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


def artifact_json(info: ArtifactInfo) -> dict[str, Any]:
    """The `artifact` object shared by every command's JSON."""
    return {
        "path": info.path,
        "format": info.format,
        "resolved": info.resolved,
        "notes": list(info.notes),
        "metadata": _jsonable(info.metadata),
    }


def tensor_json(row: TensorRow) -> dict[str, Any]:
    """One tensor of an inspect report."""
    return {
        "key": row.key,
        "shape": list(row.shape),
        "dtype": row.dtype,
        "group": row.group,
        "nbytes": row.nbytes,
        "paths": list(row.paths),
        "stats": None if row.stats is None else {k: _finite_or_none(v) for k, v in asdict(row.stats).items()},
    }


def render_inspect_json(report: InspectReport) -> str:
    """Render an inspect report as a JSON document (schema `ckptdiff.inspect/1`)."""
    doc = {
        "schema": INSPECT_SCHEMA,
        "artifact": artifact_json(report.artifact),
        "summary": {g.group: {"tensors": g.tensors, "elements": g.elements, "nbytes": g.nbytes} for g in report.summary},
        "tensors": [tensor_json(r) for r in report.tensors],
    }
    return json.dumps(doc, indent=2) + "\n"
