"""SARIF 2.1.0 for `scan` and `check` (GitHub code scanning and similar tools).

One result per finding; one rule per kind of finding (`ckptdiff/scan/lambda`, `ckptdiff/check/missing`)
with its description and help; `level` from the severity (scan: high error, medium warning, low note;
check: every failing finding is an error); `artifactLocation.uri` names the artifact, and the place
inside it (a config path, a zip member, a variable) is a logical location.
"""

from __future__ import annotations

import json
import os
from typing import Any

from ckptdiff import __version__
from ckptdiff.report.interface import CheckReport
from ckptdiff.scanning.interface import ScanReport, Severity

SARIF_SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
INFORMATION_URI = "https://github.com/ckptdiff/ckptdiff#readme"

_SCAN_LEVEL = {Severity.HIGH: "error", Severity.MEDIUM: "warning", Severity.LOW: "note", Severity.INFO: "none"}

SCAN_RULES: dict[str, tuple[str, str]] = {
    "lambda": (
        "A Lambda layer or function stores Python bytecode that runs on load",
        "Remove the Lambda: rebuild the layer in code, or keep safe_mode=True (the default) and rewrite it "
        "as a registered layer.",
    ),
    "foreign-module": (
        "The config names a module outside Keras, imported on load",
        "Load only configs whose modules you trust; register the classes you need explicitly.",
    ),
    "custom-object": (
        "The config needs a custom class the loader must supply",
        "Make sure the class comes from your own code, never from the artifact.",
    ),
    "raw-op": (
        "A raw TensorFlow op wrapper in the config can read or write files",
        "Refuse the artifact unless you wrote it.",
    ),
    "extra-member": (
        "The archive holds a member Keras never writes",
        "Inspect the member; a legitimate .keras holds config.json, metadata.json and its weights only.",
    ),
    "path-traversal": (
        "An archive member's path is absolute or climbs out with '..'",
        "Never extract this archive.",
    ),
    "zip-bomb": (
        "A member's declared size is more than any compression can produce",
        "Refuse the archive.",
    ),
    "duplicate-member": (
        "Two archive members share a name; loaders disagree which one wins",
        "Refuse the archive.",
    ),
    "py-func": (
        "A SavedModel function calls back into Python",
        "Do not load the SavedModel's functions; restore its variables only.",
    ),
    "file-write": (
        "A SavedModel function or init op writes files",
        "Do not run the SavedModel's signatures or init ops.",
    ),
    "file-read": (
        "A SavedModel function or init op reads files",
        "Check which files it reads before serving it.",
    ),
    "network": (
        "A SavedModel function reaches the network",
        "Do not serve it outside a sandbox.",
    ),
    "console": (
        "A SavedModel function prints to the console",
        "Harmless alone; check why it is there.",
    ),
    "debug-io": (
        "A SavedModel holds debugging I/O ops",
        "Check why it is there.",
    ),
    "asset": (
        "The SavedModel ships an asset file",
        "Informational: assets are read by the graph.",
    ),
    "unreachable-op": (
        "An op no signature reaches",
        "Informational.",
    ),
    "pickle": (
        "A member is a Python pickle, which runs code when unpickled",
        "Never unpickle it; re-save the weights as .weights.h5.",
    ),
}
"""Kind -> (short description, help). A kind not listed gets a generic rule."""

CHECK_RULES: dict[str, tuple[str, str]] = {
    "missing": (
        "A model variable receives nothing from the artifact and keeps its fresh value",
        "See the hints: a renamed scope or layer, or a loader matching by position.",
    ),
    "shape_mismatch": (
        "The entry the loader pairs with a variable has another shape",
        "The architecture changed, or the loader matched into the wrong layer.",
    ),
    "dtype_mismatch": (
        "The entry the loader pairs with a variable has another dtype",
        "Cast on save, or build the model with the dtype it was trained in.",
    ),
    "partial": (
        "A layer is restored in part",
        "Some of its variables keep their fresh values; see which in the check report.",
    ),
    "fresh": (
        "A restored value still looks freshly initialised",
        "The artifact was written before training, or the variable was never updated (a rebound Python "
        "name, a frozen or cut branch).",
    ),
    "nonfinite": (
        "A restored value holds NaN or Inf",
        "Find where the NaN appeared with `ckptdiff history`.",
    ),
    "misplaced": (
        "A variable receives another layer's weights",
        "A loader matched by order after a layer was inserted or renumbered.",
    ),
    "unexpected": (
        "An entry no variable consumes",
        "A layer was removed or renamed; TensorFlow only warns about it.",
    ),
    "integrity": (
        "Stored bytes fail their checksum or cannot be read",
        "The artifact is damaged: fetch it again.",
    ),
}


def _rule(prefix: str, kind: str, rules: dict[str, tuple[str, str]]) -> dict[str, Any]:
    short, help_text = rules.get(kind, (f"ckptdiff finding: {kind}", "See the ckptdiff report for details."))
    return {
        "id": f"ckptdiff/{prefix}/{kind}",
        "name": "".join(part.capitalize() for part in kind.replace("_", "-").split("-")),
        "shortDescription": {"text": short},
        "fullDescription": {"text": short},
        "help": {"text": help_text},
        "helpUri": INFORMATION_URI,
    }


def _uri(path: str) -> str:
    if "://" in path:
        return path
    return path.replace(os.sep, "/")


def _log(
    prefix: str, rules: dict[str, tuple[str, str]], uri: str, results: list[tuple[str, str, str, str, dict]]
) -> str:
    """A SARIF log of one run; results are (kind, level, message, logical location, properties)."""
    kinds = list(dict.fromkeys(kind for kind, *_ in results))
    index = {kind: i for i, kind in enumerate(kinds)}
    driver = {
        "name": "ckptdiff",
        "version": __version__,
        "informationUri": INFORMATION_URI,
        "rules": [_rule(prefix, kind, rules) for kind in kinds],
    }
    entries = []
    for kind, level, message, where, properties in results:
        location: dict[str, Any] = {"physicalLocation": {"artifactLocation": {"uri": uri}}}
        if where:
            location["logicalLocations"] = [{"fullyQualifiedName": where}]
        entry: dict[str, Any] = {
            "ruleId": f"ckptdiff/{prefix}/{kind}",
            "ruleIndex": index[kind],
            "level": level,
            "message": {"text": message},
            "locations": [location],
        }
        if properties:
            entry["properties"] = properties
        entries.append(entry)
    log = {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [{"tool": {"driver": driver}, "results": entries}]}
    return json.dumps(log, indent=2) + "\n"


def render_scan_sarif(report: ScanReport) -> str:
    """A scan report as a SARIF 2.1.0 log: one result per finding (info findings at level `none`)."""
    results = [
        (
            str(f.kind),
            _SCAN_LEVEL[Severity(f.severity)],
            f"{f.severity}: {f.detail}",
            f.location,
            {"severity": str(f.severity), **({"technique": f.technique} if f.technique else {})},
        )
        for f in report.findings
    ]
    return _log("scan", SCAN_RULES, _uri(report.path), results)


def render_check_sarif(report: CheckReport) -> str:
    """A check report as a SARIF 2.1.0 log: one error result per finding that fails the check."""
    from ckptdiff.report.junit import variable_failures

    results: list[tuple[str, str, str, str, dict]] = []
    for v in report.variables:
        for kind, message in variable_failures(v, report.fail_on):
            results.append((kind, "error", f"{v.path}: {message}", v.path, {"key": v.key or ""}))
    if "partial" in report.fail_on:
        results += [("partial", "error", p.detail, p.object, {}) for p in report.partial]
    if "unexpected" in report.fail_on:
        results += [("unexpected", "error", f"no variable consumes {u.key}", u.key, {}) for u in report.unexpected]
    for integrity in report.integrity:
        results += [("integrity", "error", f"{p.kind}: {p.detail}", p.key, {}) for p in integrity.problems]
    return _log("check", CHECK_RULES, _uri(report.artifact.path), results)
