"""SavedModel directories: variables through the bundle reader, `saved_model.pb` facts parsed natively."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from ckptdiff.artifact import FORMAT_SAVED_MODEL, Artifact
from ckptdiff.errors import CorruptArtifact, UnreadableArtifact
from ckptdiff.readers import protowire as pw
from ckptdiff.readers.tf_bundle import read_tf_bundle

SAVED_MODEL_PB = "saved_model.pb"
SAVED_MODEL_PBTXT = "saved_model.pbtxt"
FINGERPRINT_PB = "fingerprint.pb"
VARIABLES_PREFIX = ("variables", "variables")
ASSETS_DIR = "assets"
MAX_PROTO_BYTES = (2 << 30) - 1
"""Protocol buffers cannot exceed 2 GiB; a larger saved_model.pb is not one."""

# tensorflow/core/protobuf/saved_model.proto, meta_graph.proto, graph.proto, function.proto
SAVED_MODEL_SCHEMA_VERSION = 1
SAVED_MODEL_META_GRAPHS = 2
META_INFO_DEF = 1
META_GRAPH_DEF = 2
META_SIGNATURE_DEF = 5
INFO_META_GRAPH_VERSION = 1
INFO_TAGS = 4
INFO_TENSORFLOW_VERSION = 5
INFO_TENSORFLOW_GIT_VERSION = 6
GRAPH_NODE = 1
GRAPH_LIBRARY = 2
LIBRARY_FUNCTION = 1
FUNCTION_SIGNATURE = 1
FUNCTION_NODE_DEF = 3
OPDEF_NAME = 1
NODE_OP = 2
MAP_KEY = 1
MAP_VALUE = 2
SIGNATURE_INPUTS = 1
SIGNATURE_OUTPUTS = 2
SIGNATURE_METHOD_NAME = 3


def read_saved_model(directory: Path, display: str) -> Artifact:
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
    notes: list[str] = []
    pb = directory / SAVED_MODEL_PB
    if pb.is_file():
        metadata = read_saved_model_proto(pb)
    elif (directory / SAVED_MODEL_PBTXT).is_file():
        metadata = {}
        notes.append(f"{SAVED_MODEL_PBTXT} is text format, which ckptdiff does not parse: no tags, signatures or ops")
    else:
        raise UnreadableArtifact(f"{display}: no {SAVED_MODEL_PB} in this directory")
    metadata["assets"] = _list_assets(directory / ASSETS_DIR)
    metadata["fingerprint"] = (directory / FINGERPRINT_PB).is_file()

    prefix = directory.joinpath(*VARIABLES_PREFIX)
    if Path(f"{prefix}.index").is_file():
        bundle = read_tf_bundle(prefix, display)
        metadata["variables"] = bundle.metadata
        return replace(bundle, format=FORMAT_SAVED_MODEL, resolved=str(directory), metadata=metadata,
                       notes=bundle.notes + tuple(notes))
    notes.append("the SavedModel has no variables/variables.index: no stored tensors")
    return Artifact(path=display, format=FORMAT_SAVED_MODEL, entries=(), resolved=str(directory),
                    metadata=metadata, notes=tuple(notes))


def read_saved_model_proto(pb: Path) -> dict[str, Any]:
    """Parse the facts ckptdiff reports from a binary `saved_model.pb`, reading the file once.

    Returns:
        `schema_version`, `tags` (one list per meta graph), `signatures` (name -> method_name,
        inputs, outputs), `ops` (sorted op types used by the graphs and their functions, library
        function names excluded), `functions` (library functions, all meta graphs),
        `tensorflow_version` and `tensorflow_git_version` (of the first meta graph).

    Raises:
        CorruptArtifact: the file is not a SavedModel proto.
    """
    what = str(pb)
    try:
        size = pb.stat().st_size
        if size > MAX_PROTO_BYTES:
            raise CorruptArtifact(f"{what}: {size} bytes is larger than any protocol buffer can be")
        data = pb.read_bytes()
    except OSError as exc:
        raise UnreadableArtifact(f"{what}: cannot read ({exc.strerror})") from None
    fields = pw.parse_message(data, what)
    tags: list[list[str]] = []
    signatures: dict[str, dict[str, Any]] = {}
    node_ops: set[str] = set()
    function_names: set[str] = set()
    functions = 0
    versions: dict[str, str] = {}
    for i, raw in enumerate(pw.get_repeated_bytes(fields, SAVED_MODEL_META_GRAPHS, what)):
        context = f"{what}: meta graph {i}"
        meta = pw.parse_message(raw, context)
        info = pw.parse_message(pw.get_bytes(meta, META_INFO_DEF, context) or b"", f"{context}: meta_info_def")
        tags.append(pw.get_repeated_str(info, INFO_TAGS, context))
        if i == 0:
            versions["tensorflow_version"] = pw.get_str(info, INFO_TENSORFLOW_VERSION, context)
            versions["tensorflow_git_version"] = pw.get_str(info, INFO_TENSORFLOW_GIT_VERSION, context)
        for name, signature in _read_signatures(meta, context).items():
            signatures.setdefault(name, signature)
        graph = pw.parse_message(pw.get_bytes(meta, META_GRAPH_DEF, context) or b"", f"{context}: graph_def")
        node_ops.update(_node_ops(pw.get_repeated_bytes(graph, GRAPH_NODE, context), context))
        library = pw.parse_message(pw.get_bytes(graph, GRAPH_LIBRARY, context) or b"", f"{context}: library")
        for raw_function in pw.get_repeated_bytes(library, LIBRARY_FUNCTION, context):
            functions += 1
            function = pw.parse_message(raw_function, f"{context}: function")
            signature = pw.parse_message(pw.get_bytes(function, FUNCTION_SIGNATURE, context) or b"", context)
            function_names.add(pw.get_str(signature, OPDEF_NAME, context))
            node_ops.update(_node_ops(pw.get_repeated_bytes(function, FUNCTION_NODE_DEF, context), context))
    return {
        "schema_version": pw.get_int(fields, SAVED_MODEL_SCHEMA_VERSION, what),
        "tags": tags,
        "signatures": signatures,
        "ops": sorted(node_ops - function_names),
        "functions": functions,
        **versions,
    }


def _node_ops(nodes: list[memoryview], context: str) -> set[str]:
    ops = set()
    for node in nodes:
        op = pw.get_str(pw.parse_message(node, f"{context}: node"), NODE_OP, context)
        if op:
            ops.add(op)
    return ops


def _read_signatures(meta: pw.Message, context: str) -> dict[str, dict[str, Any]]:
    signatures = {}
    for raw_entry in pw.get_repeated_bytes(meta, META_SIGNATURE_DEF, context):
        entry = pw.parse_message(raw_entry, f"{context}: signature_def")
        name = pw.get_str(entry, MAP_KEY, context)
        body = pw.parse_message(pw.get_bytes(entry, MAP_VALUE, context) or b"", f"{context}: signature {name!r}")
        signatures[name] = {
            "method_name": pw.get_str(body, SIGNATURE_METHOD_NAME, context),
            "inputs": _map_keys(body, SIGNATURE_INPUTS, context),
            "outputs": _map_keys(body, SIGNATURE_OUTPUTS, context),
        }
    return signatures


def _map_keys(message: pw.Message, number: int, context: str) -> list[str]:
    return sorted(
        pw.get_str(pw.parse_message(raw, context), MAP_KEY, context)
        for raw in pw.get_repeated_bytes(message, number, context)
    )


def _list_assets(assets: Path) -> list[str]:
    if not assets.is_dir():
        return []
    return sorted(p.relative_to(assets).as_posix() for p in assets.rglob("*") if p.is_file())


__all__ = ["read_saved_model", "read_saved_model_proto"]
