"""SavedModel graphs as data: the file, network, console and Python ops a signature, a restored function or the saver reaches.

`saved_model.pb` is decoded with the bounds-checked protobuf reader (no TensorFlow). Each meta graph
becomes a call graph: top-level graph nodes with their inputs, library functions with their nodes, and
the functions each node calls (any `func` or `list(func)` attribute, nested ones included, and nodes
whose op is a library function). The roots are what a loader or a server runs:

* every signature (`serving_default`, `__saved_model_init_op`, ...): the graph nodes its output
  tensors depend on, walked backwards through data and control inputs;
* TF1 init ops (`saved_model_main_op` and `legacy_init_op` collections);
* every function the object graph restores (`tf.saved_model.load` makes each one callable);
* the saver (`saver_def`: its filename, save and restore tensors), which the loader runs to restore
  the variables.

A library function that is reached counts as a whole: in TF2 every stateful op of a function runs
(automatic control dependencies), whether or not an output depends on it. The checkpoint I/O of the
saver itself (SaveV2, RestoreV2, MergeV2Checkpoints, ...) is expected and not flagged when only the
saver reaches it; reached from anything else it is.
"""

from __future__ import annotations

import json
import re
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

from ckptdiff.errors import CorruptArtifact, UnreadableArtifact
from ckptdiff.readers import protowire as pw
from ckptdiff.readers.saved_model import (  # the proto field numbers the reader uses
    MAX_PROTO_BYTES,
    FUNCTION_NODE_DEF,
    FUNCTION_SIGNATURE,
    GRAPH_LIBRARY,
    GRAPH_NODE,
    INFO_TAGS,
    LIBRARY_FUNCTION,
    MAP_KEY,
    MAP_VALUE,
    META_GRAPH_DEF,
    META_INFO_DEF,
    META_SIGNATURE_DEF,
    NODE_OP,
    OPDEF_NAME,
    SAVED_MODEL_META_GRAPHS,
    SIGNATURE_INPUTS,
    SIGNATURE_OUTPUTS,
)
from ckptdiff.scan.interface import SEVERITY_HIGH, SEVERITY_INFO, SEVERITY_LOW, SEVERITY_MEDIUM, Finding
from ckptdiff.scan.keras_config import find_code_in_config


# tensorflow/core/protobuf/{saved_model,meta_graph,saver,saved_object_graph}.proto,
# tensorflow/core/framework/{graph,function,node_def,attr_value}.proto
META_SAVER_DEF = 3
META_COLLECTION_DEF = 4
META_ASSET_FILE_DEF = 6
META_OBJECT_GRAPH_DEF = 7
NODE_NAME = 1
NODE_INPUT = 3
NODE_ATTR = 5
ATTR_LIST = 1
ATTR_FUNC = 10
LIST_FUNC = 9
NAME_ATTR_LIST_NAME = 1
NAME_ATTR_LIST_ATTR = 2
TENSOR_INFO_NAME = 1
TENSOR_INFO_COO_SPARSE = 4
TENSOR_INFO_COMPOSITE = 5
COMPOSITE_COMPONENTS = 3
SAVER_FILENAME_TENSOR = 1
SAVER_SAVE_TENSOR = 2
SAVER_RESTORE_OP = 3
COLLECTION_NODE_LIST = 1
NODE_LIST_VALUE = 1
ASSET_FILENAME = 2
OBJECT_GRAPH_NODES = 1
OBJECT_GRAPH_CONCRETE_FUNCTIONS = 2
OBJECT_CHILDREN = 1
OBJECT_SLOT_VARIABLES = 3
OBJECT_FUNCTION = 6
OBJECT_BARE_CONCRETE_FUNCTION = 8
OBJECT_SAVEABLE_OBJECTS = 11
OBJECT_DEPENDENCIES = 15
REF_NODE_ID = 1
REF_LOCAL_NAME = 2
SLOT_ORIGINAL_NODE_ID = 1
SLOT_NODE_ID = 3
SAVEABLE_SAVE_FUNCTION = 2
SAVEABLE_RESTORE_FUNCTION = 3
FUNCTION_CONCRETE_FUNCTIONS = 1
BARE_CONCRETE_FUNCTION_NAME = 1
# tf_keras/protobuf/saved_metadata.proto
KERAS_METADATA_PB = "keras_metadata.pb"
KERAS_METADATA_NODES = 1
KERAS_NODE_PATH = 3
KERAS_NODE_METADATA = 5

INIT_COLLECTIONS = ("saved_model_main_op", "legacy_init_op")
"""TF1 SavedModel loaders run the op these collections name right after restoring the variables."""

ROOT_SIGNATURE = "signature"
ROOT_INIT = "init op"
ROOT_RESTORED = "restored function"
ROOT_SAVER = "saver"


@dataclass(frozen=True)
class OpDanger:
    """What an op does that matters when an untrusted graph runs it."""

    kind: str
    severity: str
    what: str


def _ops(names: str, danger: OpDanger) -> dict[str, OpDanger]:
    return {name: danger for name in names.split()}


PY_FUNC = OpDanger("py-func", SEVERITY_HIGH, "calls a Python function by token in the loading process")
FILE_WRITE = OpDanger("file-write", SEVERITY_HIGH, "writes files")
FILE_READ = OpDanger("file-read", SEVERITY_MEDIUM, "reads files")
NETWORK = OpDanger("network", SEVERITY_HIGH, "talks over the network")
CONSOLE = OpDanger("console", SEVERITY_LOW, "prints to the console or log")
DEBUG_IO = OpDanger("debug-io", SEVERITY_MEDIUM, "debugger op: sends tensors to the file:// or grpc:// URLs it names")

DANGEROUS_OPS: dict[str, OpDanger] = {
    **_ops("PyFunc PyFuncStateless EagerPyFunc", PY_FUNC),
    **_ops(
        "WriteFile Save SaveV2 SaveSlices MergeV2Checkpoints "
        "CreateSummaryFileWriter CreateSummaryDbWriter WriteSummary WriteScalarSummary WriteHistogramSummary "
        "WriteImageSummary WriteAudioSummary WriteGraphSummary WriteRawProtoSummary ImportEvent "
        "SaveDataset SaveDatasetV2 DatasetToTFRecord ExperimentalDatasetToTFRecord "
        "SnapshotDataset SnapshotDatasetV2 CacheDataset CacheDatasetV2",
        FILE_WRITE,
    ),
    **_ops(
        "ReadFile MatchingFiles MatchingFilesDataset Restore RestoreV2 RestoreSlice "
        "FixedLengthRecordReader FixedLengthRecordReaderV2 TFRecordReader TFRecordReaderV2 TextLineReader "
        "TextLineReaderV2 WholeFileReader WholeFileReaderV2 LMDBReader "
        "TFRecordDataset TFRecordDatasetV2 TextLineDataset FixedLengthRecordDataset FixedLengthRecordDatasetV2 "
        "LMDBDataset ExperimentalLMDBDataset CSVDataset CSVDatasetV2 ExperimentalCSVDataset SqlDataset "
        "ExperimentalSqlDataset LoadDataset InitializeTableFromTextFile InitializeTableFromTextFileV2 "
        "ImmutableConst LoadAndRemapMatrix GenerateVocabRemapping",
        FILE_READ,
    ),
    **_ops(
        "Rpc TryRpc RpcCall RpcClient RpcServer RpcServerStart RpcServerRegister RpcCheckStatus RpcGetValue "
        "DataServiceDataset DataServiceDatasetV2 DataServiceDatasetV3 DataServiceDatasetV4 RegisterDataset "
        "RegisterDatasetV2 DistributedSave",
        NETWORK,
    ),
    **_ops("Print PrintV2", CONSOLE),
    **_ops(
        "DebugIdentity DebugIdentityV2 DebugIdentityV3 DebugNanCount DebugNumericSummary DebugNumericSummaryV2",
        DEBUG_IO,
    ),
}
"""Ops that reach outside the computation: the file system, the network, the console, Python.
Names from tensorflow/core/ops (io_ops, logging_ops, summary_ops, script_ops, debug_ops, dataset ops,
lookup_ops, rpc_ops)."""

CHECKPOINT_IO_OPS = frozenset({"SaveV2", "Save", "SaveSlices", "MergeV2Checkpoints", "RestoreV2", "Restore", "RestoreSlice"})
"""The saver's own machinery: expected when only the saver reaches it."""

MAX_LABELS_IN_DETAIL = 3


@dataclass(frozen=True)
class GraphNode:
    """A NodeDef: its op, its inputs and the library functions it calls."""

    name: str
    op: str
    inputs: tuple[str, ...]
    calls: tuple[str, ...]


@dataclass(frozen=True)
class Root:
    """Something a loader or server runs: a signature, an init op, a restored function, the saver."""

    kind: str
    label: str
    tensors: tuple[str, ...] = ()
    """Graph tensor or op names (`StatefulPartitionedCall:0`, `^init`) it needs."""
    functions: tuple[str, ...] = ()
    """Library functions it calls directly."""


@dataclass
class MetaGraphModel:
    """One meta graph of a SavedModel, as a call graph with its roots."""

    index: int
    tags: tuple[str, ...]
    graph: dict[str, GraphNode] = field(default_factory=dict)
    functions: dict[str, tuple[GraphNode, ...]] = field(default_factory=dict)
    roots: list[Root] = field(default_factory=list)
    asset_filenames: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def read_saved_model_graphs(pb: Path, display: str) -> list[MetaGraphModel]:
    """Decode every meta graph of a binary saved_model.pb into call graphs with their roots.

    Raises:
        CorruptArtifact: the bytes are not a SavedModel, or the object graph references nodes
            outside its node list.
        UnreadableArtifact: the file cannot be read.
    """
    what = f"{display}: {pb.name}"
    data = _read_bounded(pb, what)
    fields = pw.parse_message(data, what)
    return [
        _read_meta_graph(raw, i, f"{what}: meta graph {i}")
        for i, raw in enumerate(pw.get_repeated_bytes(fields, SAVED_MODEL_META_GRAPHS, what))
    ]


def _read_bounded(path: Path, what: str) -> bytes:
    try:
        size = path.stat().st_size
        if size > MAX_PROTO_BYTES:
            raise CorruptArtifact(f"{what}: {size} bytes is larger than any protocol buffer can be")
        return path.read_bytes()
    except OSError as exc:
        raise UnreadableArtifact(f"{what}: cannot read ({exc.strerror})") from None


def _read_meta_graph(raw: memoryview, index: int, context: str) -> MetaGraphModel:
    meta = pw.parse_message(raw, context)
    info = pw.parse_message(pw.get_bytes(meta, META_INFO_DEF, context) or b"", context)
    model = MetaGraphModel(index=index, tags=tuple(pw.get_repeated_str(info, INFO_TAGS, context)))
    graph = pw.parse_message(pw.get_bytes(meta, META_GRAPH_DEF, context) or b"", f"{context}: graph_def")
    library = pw.parse_message(pw.get_bytes(graph, GRAPH_LIBRARY, context) or b"", f"{context}: library")
    for raw_function in pw.get_repeated_bytes(library, LIBRARY_FUNCTION, context):
        function = pw.parse_message(raw_function, f"{context}: function")
        signature = pw.parse_message(pw.get_bytes(function, FUNCTION_SIGNATURE, context) or b"", context)
        name = pw.get_str(signature, OPDEF_NAME, context)
        nodes = tuple(_read_node(n, f"{context}: function {name}") for n in pw.get_repeated_bytes(function, FUNCTION_NODE_DEF, context))
        model.functions[name] = nodes
    for raw_node in pw.get_repeated_bytes(graph, GRAPH_NODE, context):
        node = _read_node(raw_node, f"{context}: graph node")
        model.graph[node.name] = node
    model.roots.extend(_signature_roots(meta, context))
    model.roots.extend(_init_roots(meta, context))
    model.roots.extend(_restored_roots(meta, model, context))
    saver = pw.get_bytes(meta, META_SAVER_DEF, context)
    if saver is not None:
        saver_fields = pw.parse_message(saver, f"{context}: saver_def")
        tensors = tuple(
            t for t in (pw.get_str(saver_fields, n, context) for n in (SAVER_FILENAME_TENSOR, SAVER_SAVE_TENSOR, SAVER_RESTORE_OP)) if t
        )
        model.roots.append(Root(ROOT_SAVER, "the saver", tensors=tensors))
    for raw_asset in pw.get_repeated_bytes(meta, META_ASSET_FILE_DEF, context):
        model.asset_filenames.append(pw.get_str(pw.parse_message(raw_asset, context), ASSET_FILENAME, context))
    return model


def _read_node(raw: memoryview, context: str) -> GraphNode:
    fields = pw.parse_message(raw, context)
    calls: list[str] = []
    pending = [
        pw.get_bytes(pw.parse_message(entry, context), MAP_VALUE, context) or b""
        for entry in pw.get_repeated_bytes(fields, NODE_ATTR, context)
    ]
    while pending:  # attribute values, nested NameAttrLists included, without recursion
        value = pw.parse_message(pending.pop(), f"{context}: attr")
        lists = [pw.parse_message(v, context) for v in pw.get_repeated_bytes(value, ATTR_LIST, context)]
        name_attr_lists = pw.get_repeated_bytes(value, ATTR_FUNC, context)
        for lst in lists:
            name_attr_lists = name_attr_lists + pw.get_repeated_bytes(lst, LIST_FUNC, context)
        for raw_nal in name_attr_lists:
            nal = pw.parse_message(raw_nal, context)
            calls.append(pw.get_str(nal, NAME_ATTR_LIST_NAME, context))
            pending.extend(
                pw.get_bytes(pw.parse_message(entry, context), MAP_VALUE, context) or b""
                for entry in pw.get_repeated_bytes(nal, NAME_ATTR_LIST_ATTR, context)
            )
    return GraphNode(
        name=pw.get_str(fields, NODE_NAME, context),
        op=pw.get_str(fields, NODE_OP, context),
        inputs=tuple(pw.get_repeated_str(fields, NODE_INPUT, context)),
        calls=tuple(c for c in calls if c),
    )


def _signature_roots(meta: pw.Message, context: str) -> list[Root]:
    roots = []
    for raw_entry in pw.get_repeated_bytes(meta, META_SIGNATURE_DEF, context):
        entry = pw.parse_message(raw_entry, f"{context}: signature_def")
        name = pw.get_str(entry, MAP_KEY, context)
        body = pw.parse_message(pw.get_bytes(entry, MAP_VALUE, context) or b"", f"{context}: signature {name!r}")
        tensors: list[str] = []
        for number in (SIGNATURE_INPUTS, SIGNATURE_OUTPUTS):
            for raw_io in pw.get_repeated_bytes(body, number, context):
                info = pw.get_bytes(pw.parse_message(raw_io, context), MAP_VALUE, context)
                tensors.extend(_tensor_info_names(info or b"", context))
        roots.append(Root(ROOT_SIGNATURE, f"signature {name!r}", tensors=tuple(tensors)))
    return roots


def _tensor_info_names(raw: memoryview | bytes, context: str) -> list[str]:
    names: list[str] = []
    pending = [raw]
    while pending:
        info = pw.parse_message(pending.pop(), context)
        name = pw.get_str(info, TENSOR_INFO_NAME, context)
        if name:
            names.append(name)
        sparse = pw.get_bytes(info, TENSOR_INFO_COO_SPARSE, context)
        if sparse is not None:  # CooSparse: indices, values and dense_shape tensor names (fields 1-3)
            sparse_fields = pw.parse_message(sparse, context)
            names.extend(s for s in (pw.get_str(sparse_fields, n, context) for n in (1, 2, 3)) if s)
        composite = pw.get_bytes(info, TENSOR_INFO_COMPOSITE, context)
        if composite is not None:
            pending.extend(pw.get_repeated_bytes(pw.parse_message(composite, context), COMPOSITE_COMPONENTS, context))
    return names


def _init_roots(meta: pw.Message, context: str) -> list[Root]:
    roots = []
    for raw_entry in pw.get_repeated_bytes(meta, META_COLLECTION_DEF, context):
        entry = pw.parse_message(raw_entry, f"{context}: collection_def")
        key = pw.get_str(entry, MAP_KEY, context)
        if key not in INIT_COLLECTIONS:
            continue
        collection = pw.parse_message(pw.get_bytes(entry, MAP_VALUE, context) or b"", context)
        node_list = pw.get_bytes(collection, COLLECTION_NODE_LIST, context)
        if node_list is not None:
            names = pw.get_repeated_str(pw.parse_message(node_list, context), NODE_LIST_VALUE, context)
            roots.append(Root(ROOT_INIT, f"init op {key!r}", tensors=tuple(names)))
    return roots


def _restored_roots(meta: pw.Message, model: MetaGraphModel, context: str) -> list[Root]:
    raw = pw.get_bytes(meta, META_OBJECT_GRAPH_DEF, context)
    if raw is None:
        return []
    what = f"{context}: object_graph_def"
    graph = pw.parse_message(raw, what)
    nodes = [pw.parse_message(n, f"{what}: node {i}") for i, n in enumerate(pw.get_repeated_bytes(graph, OBJECT_GRAPH_NODES, what))]
    children: list[list[tuple[int, str]]] = []
    for i, node in enumerate(nodes):
        refs = [_reference(r, what) for r in pw.get_repeated_bytes(node, OBJECT_CHILDREN, what)]
        check = [node_id for node_id, _ in refs]
        check += [_reference(r, what)[0] for r in pw.get_repeated_bytes(node, OBJECT_DEPENDENCIES, what)]
        for slot in pw.get_repeated_bytes(node, OBJECT_SLOT_VARIABLES, what):
            slot_fields = pw.parse_message(slot, what)
            check += [pw.get_int(slot_fields, n, what, signed=True) for n in (SLOT_ORIGINAL_NODE_ID, SLOT_NODE_ID)]
        for entry in pw.get_repeated_bytes(node, OBJECT_SAVEABLE_OBJECTS, what):
            saveable = pw.parse_message(pw.get_bytes(pw.parse_message(entry, what), MAP_VALUE, what) or b"", what)
            check += [pw.get_int(saveable, n, what, signed=True) for n in (SAVEABLE_SAVE_FUNCTION, SAVEABLE_RESTORE_FUNCTION) if n in saveable]
        bad = [x for x in check if not 0 <= x < len(nodes)]
        if bad:
            raise CorruptArtifact(f"{what}: node {i} references node {bad[0]}, but the object graph has {len(nodes)} nodes")
        children.append(refs)
    paths = _first_paths(children)
    roots: list[Root] = []
    seen: set[str] = set()
    for i, node in enumerate(nodes):
        names: list[str] = []
        function = pw.get_bytes(node, OBJECT_FUNCTION, what)
        if function is not None:
            names += pw.get_repeated_str(pw.parse_message(function, what), FUNCTION_CONCRETE_FUNCTIONS, what)
        bare = pw.get_bytes(node, OBJECT_BARE_CONCRETE_FUNCTION, what)
        if bare is not None:
            names.append(pw.get_str(pw.parse_message(bare, what), BARE_CONCRETE_FUNCTION_NAME, what))
        fresh = tuple(n for n in names if n and n not in seen)
        if fresh:
            seen.update(fresh)
            roots.append(Root(ROOT_RESTORED, f"restored function {paths[i] or '<root>'!r}", functions=fresh))
    for entry in pw.get_repeated_bytes(graph, OBJECT_GRAPH_CONCRETE_FUNCTIONS, what):
        name = pw.get_str(pw.parse_message(entry, what), MAP_KEY, what)
        if name and name not in seen:
            seen.add(name)
            roots.append(Root(ROOT_RESTORED, f"concrete function {name!r}", functions=(name,)))
    missing = sorted(n for n in seen if n not in model.functions)
    if missing:
        model.notes.append(
            f"meta graph {model.index}: {len(missing)} restored function(s) are not in the function library "
            f"(TensorFlow could not load them): {', '.join(missing[:3])}"
        )
    return roots


def _reference(raw: memoryview, what: str) -> tuple[int, str]:
    fields = pw.parse_message(raw, what)
    return pw.get_int(fields, REF_NODE_ID, what, signed=True), pw.get_str(fields, REF_LOCAL_NAME, what)


def _first_paths(children: list[list[tuple[int, str]]]) -> list[str | None]:
    """Each object's first path from node 0, breadth first (None when unreachable)."""
    paths: list[str | None] = [None] * len(children)
    if not children:
        return paths
    paths[0] = ""
    queue = deque([0])
    while queue:
        parent = queue.popleft()
        for child, name in children[parent]:
            if paths[child] is None and child != 0:
                paths[child] = f"{paths[parent]}/{name}" if paths[parent] else name
                queue.append(child)
    return paths


# --- reachability ---------------------------------------------------------------------------------


def _node_name(tensor: str) -> str:
    name = tensor[1:] if tensor.startswith("^") else tensor
    return name.split(":", 1)[0]


def _reach(model: MetaGraphModel, root: Root) -> tuple[set[str], set[str]]:
    """The graph nodes and library functions a root runs."""
    graph_seen: set[str] = set()
    stack = [_node_name(t) for t in root.tensors]
    called: list[str] = list(root.functions)
    while stack:
        name = stack.pop()
        if name in graph_seen or name not in model.graph:
            continue
        graph_seen.add(name)
        node = model.graph[name]
        stack.extend(_node_name(i) for i in node.inputs)
        called.extend(node.calls)
        if node.op in model.functions:
            called.append(node.op)
    functions_seen: set[str] = set()
    while called:
        name = called.pop()
        if name in functions_seen or name not in model.functions:
            continue
        functions_seen.add(name)
        for node in model.functions[name]:
            called.extend(node.calls)
            if node.op in model.functions:
                called.append(node.op)
    return graph_seen, functions_seen


def find_dangerous_ops(models: list[MetaGraphModel]) -> list[Finding]:
    """Findings for every dangerous op, with the roots that reach it (unreachable ones as info).

    Args:
        models: the meta graphs of one SavedModel.
    """
    findings: list[Finding] = []
    for model in models:
        prefix = f"meta_graph[{model.index}]:" if len(models) > 1 else ""
        dangerous_graph = {n.name: n for n in model.graph.values() if n.op in DANGEROUS_OPS}
        dangerous_functions = {
            f: [n for n in nodes if n.op in DANGEROUS_OPS] for f, nodes in model.functions.items()
        }
        reached_by: dict[tuple[str, str], list[Root]] = {}
        for root in model.roots:
            graph_seen, functions_seen = _reach(model, root)
            for name in graph_seen & dangerous_graph.keys():
                reached_by.setdefault(("graph", name), []).append(root)
            for function in functions_seen:
                for node in dangerous_functions[function]:
                    reached_by.setdefault((function, node.name), []).append(root)
        located = [("graph", n) for n in dangerous_graph.values()]
        located += [(f, n) for f, nodes in dangerous_functions.items() for n in nodes]
        for container, node in located:
            danger = DANGEROUS_OPS[node.op]
            location = f"{prefix}{container}/{node.name}"
            roots = reached_by.get((container, node.name), [])
            if not roots:
                findings.append(
                    Finding(SEVERITY_INFO, "unreachable-op", location,
                            f"{node.op} {danger.what}, but no signature, restored function or saver reaches it")
                )
                continue
            if node.op in CHECKPOINT_IO_OPS and all(r.kind == ROOT_SAVER for r in roots):
                continue
            findings.append(Finding(danger.severity, danger.kind, location, f"{node.op} {danger.what}; {_reached_text(roots)}"))
    return findings


def _reached_text(roots: list[Root]) -> str:
    labels = sorted({r.label for r in roots})
    shown = ", ".join(labels[:MAX_LABELS_IN_DETAIL])
    more = f" and {len(labels) - MAX_LABELS_IN_DETAIL} more" if len(labels) > MAX_LABELS_IN_DETAIL else ""
    return f"reached from {shown}{more}"


# --- text format and Keras metadata -------------------------------------------------------------------

_TEXT_OP = re.compile(r'\bop:\s*"([A-Za-z0-9_>.]+)"')


def find_dangerous_ops_in_text(pbtxt: Path, display: str) -> list[Finding]:
    """Dangerous ops named anywhere in a text-format saved_model.pbtxt (reachability is not computed)."""
    text = _read_bounded(pbtxt, f"{display}: {pbtxt.name}").decode("utf-8", errors="replace")
    findings = []
    for op in sorted({m.group(1) for m in _TEXT_OP.finditer(text)} & DANGEROUS_OPS.keys()):
        danger = DANGEROUS_OPS[op]
        findings.append(
            Finding(danger.severity, danger.kind, f"{pbtxt.name}: op {op}",
                    f"{op} {danger.what} (text format: reachability not computed, so the saver's own I/O counts too)")
        )
    return findings


def find_code_in_keras_metadata(path: Path, display: str) -> list[Finding]:
    """Findings for the Keras layer configs tf_keras stores in a SavedModel's keras_metadata.pb.

    tf_keras' `load_model` rebuilds layers from these JSON configs, Lambda bytecode included.
    """
    what = f"{display}: {path.name}"
    fields = pw.parse_message(_read_bounded(path, what), what)
    findings: list[Finding] = []
    for raw in pw.get_repeated_bytes(fields, KERAS_METADATA_NODES, what):
        node = pw.parse_message(raw, what)
        node_path = pw.get_str(node, KERAS_NODE_PATH, what)
        text = pw.get_str(node, KERAS_NODE_METADATA, what)
        try:
            config = json.loads(text) if text else None
        except (json.JSONDecodeError, RecursionError):
            raise CorruptArtifact(f"{what}: metadata of {node_path!r} is not JSON") from None
        for danger in find_code_in_config(config):
            where = f"{path.name}:{node_path}" + ("" if danger.location == "<root>" else f".{danger.location}")
            findings.append(Finding(danger.severity, danger.kind, where, danger.detail))
    return findings
