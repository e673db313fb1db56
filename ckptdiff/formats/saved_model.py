"""SavedModel directories: variables through the bundle reader, `saved_model.pb` decoded natively, scanned as data."""

from __future__ import annotations

import os
from dataclasses import replace
from typing import Any

from ckptdiff.artifact import Artifact, Format
from ckptdiff.errors import CkptdiffError, CorruptArtifact, UnreadableArtifact
from ckptdiff.formats.interface import ArtifactKind, Detection
from ckptdiff.formats.saved_model_proto import SavedModelProto, read_saved_model_pb
from ckptdiff.formats.tf_bundle import dangling_graph_keys, read_tf_bundle, verify_bundle
from ckptdiff.integrity import IntegrityProblem, IntegrityReport, ProblemKind, VerifyMethod
from ckptdiff.scanning.interface import Finding, ScanResult, Severity
from ckptdiff.storage import Location, as_location

SAVED_MODEL_PB = "saved_model.pb"
SAVED_MODEL_PBTXT = "saved_model.pbtxt"
FINGERPRINT_PB = "fingerprint.pb"
KERAS_METADATA_PB = "keras_metadata.pb"
VARIABLES_PREFIX = "variables/variables"
TF1_VARIABLE_OPS = ("VariableV2", "Variable", "VarHandleOp")
"""Graph ops whose variables a loader restores from the variables bundle (TF1 graphs, and TF2 graphs' handles)."""
ASSETS_DIR = "assets"
ASSET_DIRS = ("assets", "assets.extra")
MAX_LISTED_ASSETS = 1000


def read_saved_model(directory: Location | str | os.PathLike[str], display: str) -> Artifact:
    """Open a SavedModel directory without TensorFlow.

    Args:
        directory: the directory holding `saved_model.pb` and `variables/`.
        display: the path as the user gave it.

    Returns:
        An Artifact of format `saved-model` whose entries are the variables bundle's (none when the
        SavedModel has no variables) and whose metadata holds `tags`, `signatures`, `ops`,
        `functions`, `tensorflow_version`, `schema_version`, `assets` and `fingerprint`.

    Raises:
        UnreadableArtifact: saved_model.pb or the variables bundle is damaged or unreadable.
    """
    directory = as_location(directory)
    notes: list[str] = []
    pb = directory.child(SAVED_MODEL_PB)
    if pb.is_file():
        metadata = saved_model_facts(read_saved_model_pb(pb))
    elif directory.child(SAVED_MODEL_PBTXT).is_file():
        metadata = {}
        notes.append(f"{SAVED_MODEL_PBTXT} is text format, which ckptdiff does not parse: no tags, signatures or ops")
    else:
        raise UnreadableArtifact(f"{display}: no {SAVED_MODEL_PB} in this directory")
    metadata["assets"] = _list_assets(directory.child(ASSETS_DIR))
    metadata["fingerprint"] = directory.child(FINGERPRINT_PB).is_file()

    prefix = directory.child(VARIABLES_PREFIX)
    if prefix.with_suffix(".index").is_file():
        bundle = read_tf_bundle(prefix, display)
        metadata["variables"] = bundle.metadata
        return replace(
            bundle,
            format=Format.SAVED_MODEL,
            resolved=directory.display,
            location=directory,
            metadata=metadata,
            notes=bundle.notes + tuple(notes),
        )
    notes.append("the SavedModel has no variables/variables.index: no stored tensors")
    return Artifact(
        path=display,
        format=Format.SAVED_MODEL,
        entries=(),
        resolved=directory.display,
        location=directory,
        metadata=metadata,
        notes=tuple(notes),
    )


def saved_model_facts(proto: SavedModelProto) -> dict[str, Any]:
    """What inspect reports of a decoded saved_model.pb.

    Returns:
        `schema_version`, `tags` (one list per meta graph), `signatures` (name -> method_name,
        inputs, outputs), `ops` (sorted op types used by the graphs and their functions, library
        function names excluded), `functions` (library functions, all meta graphs),
        `tensorflow_version` and `tensorflow_git_version` (of the first meta graph).
    """
    signatures: dict[str, dict[str, Any]] = {}
    ops: set[str] = set()
    for meta in proto.meta_graphs:
        for name, signature in meta.signatures.items():
            signatures.setdefault(name, signature)
        ops |= meta.ops
    facts: dict[str, Any] = {
        "schema_version": proto.schema_version,
        "tags": [list(m.tags) for m in proto.meta_graphs],
        "signatures": signatures,
        "ops": sorted(ops),
        "functions": sum(len(m.functions) for m in proto.meta_graphs),
    }
    if proto.meta_graphs:
        facts["tensorflow_version"] = proto.meta_graphs[0].tensorflow_version
        facts["tensorflow_git_version"] = proto.meta_graphs[0].tensorflow_git_version
    return facts


def _list_assets(assets: Location) -> list[str]:
    if not assets.is_dir():
        return []
    return sorted(f.relative_to(assets) for f in assets.walk_files())


def _asset_findings(directory: Location) -> list[Finding]:
    findings = []
    for folder in ASSET_DIRS:
        root = directory.child(folder)
        if not root.is_dir():
            continue
        for full in root.walk_files():
            rel = full.relative_to(directory)
            if full.is_symlink():
                findings.append(
                    Finding(
                        Severity.MEDIUM,
                        "asset",
                        rel,
                        f"symbolic link to {full.readlink()}: points outside the asset's bytes",
                    )
                )
                continue
            size = full.size() if full.is_file() else 0
            findings.append(Finding(Severity.INFO, "asset", rel, f"asset, {size} bytes: read as data by the graph"))
            if len(findings) >= MAX_LISTED_ASSETS:
                return findings
    return findings


def _is_saved_model_dir(location: Location) -> bool:
    return location.child(SAVED_MODEL_PB).is_file() or location.child(SAVED_MODEL_PBTXT).is_file()


def serving_version(base: Location) -> Location | None:
    """The highest numbered version subdirectory holding a SavedModel (TF Serving's default policy), if any."""
    versions = [
        (int(child.name), child)
        for child in base.iterdir()
        if child.name.isdigit() and child.is_dir() and _is_saved_model_dir(child)
    ]
    return max(versions, key=lambda v: v[0])[1] if versions else None


class SavedModelKind(ArtifactKind):
    """SavedModel directories (TF1 and TF2, Keras SavedModels included)."""

    name = "saved-model"
    formats = (Format.SAVED_MODEL,)

    def detect(self, location: Location) -> Detection | None:
        if location.is_dir() and _is_saved_model_dir(location):
            return Detection(self, location)
        if location.is_file() and location.name in (SAVED_MODEL_PB, SAVED_MODEL_PBTXT):
            note = f"read the SavedModel {location.parent} that {location.name} belongs to"
            return Detection(self, location.parent, (note,))
        if location.is_dir():
            version = serving_version(location)
            if version is not None:
                note = f"TF Serving base directory: read its highest version, {version.name}, as TF Serving serves it"
                return Detection(self, version, (note,))
        return None

    def open(self, location: Location, display: str) -> Artifact:
        return read_saved_model(location, display)

    def loader(self, artifact: Artifact) -> str:
        return "object-graph" if artifact.object_graph is not None else "by-name"

    def verify(self, artifact: Artifact) -> IntegrityReport:
        """saved_model.pb decoded as a call graph (object-graph references in range), then the variables' CRC32Cs."""
        directory = artifact.location
        assert directory is not None, "SavedModel artifacts record their directory"
        problems: list[IntegrityProblem] = []
        notes: list[str] = []
        checked = 0
        needed = 0  # variables the graph restores from the bundle
        pb = directory.child(SAVED_MODEL_PB)
        if pb.is_file():
            try:
                proto = read_saved_model_pb(pb)
                problems += [
                    IntegrityProblem(SAVED_MODEL_PB, ProblemKind.STRUCTURE, p)
                    for m in proto.meta_graphs
                    for p in m.problems
                ]
                needed = sum(m.variables for m in proto.meta_graphs)
                needed += sum(any(op in TF1_VARIABLE_OPS for op in m.ops) for m in proto.meta_graphs)
            except CkptdiffError as exc:
                problems.append(IntegrityProblem(SAVED_MODEL_PB, ProblemKind.STRUCTURE, str(exc)))
        prefix = directory.child(VARIABLES_PREFIX)
        if prefix.with_suffix(".index").is_file():
            checked, bundle_problems, notes = verify_bundle(prefix, artifact.path)
            problems += bundle_problems + dangling_graph_keys(artifact)
        elif needed:
            problems.append(
                IntegrityProblem(
                    f"{VARIABLES_PREFIX}.index",
                    ProblemKind.UNREADABLE,
                    "missing, but saved_model.pb restores variables from it: tf.saved_model.load fails",
                )
            )
        else:
            notes.append("no variables bundle: no tensor checksums to verify")
        return IntegrityReport(artifact.path, VerifyMethod.CRC32C, checked, tuple(problems), tuple(notes))

    def scan(self, location: Location, display: str) -> ScanResult:
        """Dangerous ops a root reaches, Lambda and custom objects in tf_keras' keras_metadata.pb, assets."""
        from ckptdiff.formats.saved_model_ops import (
            find_code_in_keras_metadata,
            find_code_in_user_objects,
            find_dangerous_ops,
            find_dangerous_ops_in_text,
        )

        findings: list[Finding] = []
        scanned: list[str] = []
        notes: list[str] = []
        pb = location.child(SAVED_MODEL_PB)
        if pb.is_file():
            models = read_saved_model_pb(pb).meta_graphs
            for m in models:
                if m.problems:
                    raise CorruptArtifact(m.problems[0])
            findings += find_dangerous_ops(models)
            findings += find_code_in_user_objects(models)
            functions = sum(len(m.functions) for m in models)
            roots = sum(len(m.roots) for m in models)
            scanned.append(f"{SAVED_MODEL_PB}: {len(models)} meta graph(s), {functions} functions, {roots} roots")
            for m in models:
                notes.extend(m.notes)
        else:
            findings += find_dangerous_ops_in_text(location.child(SAVED_MODEL_PBTXT), display)
            scanned.append(f"{SAVED_MODEL_PBTXT} (text: op names only)")
        keras_metadata = location.child(KERAS_METADATA_PB)
        if keras_metadata.is_file():
            findings += find_code_in_keras_metadata(keras_metadata, display)
            scanned.append(KERAS_METADATA_PB)
        findings += _asset_findings(location)
        return ScanResult(Format.SAVED_MODEL, tuple(findings), tuple(scanned), tuple(notes))


KIND = SavedModelKind()
