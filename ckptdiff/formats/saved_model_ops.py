"""SavedModel graphs as data: the file, network, console and Python ops a signature, a restored function or the
saver reaches.

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
from dataclasses import dataclass

from ckptdiff.errors import CorruptArtifact
from ckptdiff.formats import protowire as pw
from ckptdiff.formats.keras_config import find_code_in_config
from ckptdiff.formats.saved_model_proto import (
    KERAS_METADATA_NODES,
    KERAS_NODE_METADATA,
    KERAS_NODE_PATH,
    ROOT_SAVER,
    MetaGraphModel,
    Root,
    read_bounded,
)
from ckptdiff.scanning.interface import Finding, Severity
from ckptdiff.storage import Location


@dataclass(frozen=True)
class OpDanger:
    """What an op does that matters when an untrusted graph runs it."""

    kind: str
    severity: Severity
    what: str


def _ops(names: str, danger: OpDanger) -> dict[str, OpDanger]:
    return {name: danger for name in names.split()}


PY_FUNC = OpDanger("py-func", Severity.HIGH, "calls a Python function by token in the loading process")
FILE_WRITE = OpDanger("file-write", Severity.HIGH, "writes files")
FILE_READ = OpDanger("file-read", Severity.MEDIUM, "reads files")
NETWORK = OpDanger("network", Severity.HIGH, "talks over the network")
CONSOLE = OpDanger("console", Severity.LOW, "prints to the console or log")
DEBUG_IO = OpDanger("debug-io", Severity.MEDIUM, "debugger op: sends tensors to the file:// or grpc:// URLs it names")

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
        "ImmutableConst LoadAndRemapMatrix GenerateVocabRemapping DecodeProtoV2 EncodeProto",
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

CHECKPOINT_IO_OPS = frozenset(
    {"SaveV2", "Save", "SaveSlices", "MergeV2Checkpoints", "RestoreV2", "Restore", "RestoreSlice"}
)
"""The saver's own machinery: expected when only the saver reaches it."""

MAX_LABELS_IN_DETAIL = 3


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
        dangerous_functions = {f: [n for n in nodes if n.op in DANGEROUS_OPS] for f, nodes in model.functions.items()}
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
                    Finding(
                        Severity.INFO,
                        "unreachable-op",
                        location,
                        f"{node.op} {danger.what}, but no signature, restored function or saver reaches it",
                    )
                )
                continue
            if node.op in CHECKPOINT_IO_OPS and all(r.kind == ROOT_SAVER for r in roots):
                continue
            findings.append(
                Finding(
                    danger.severity, danger.kind, location, f"{node.op} {danger.what}; {_reached_text(roots)}", node.op
                )
            )
    return findings


def _reached_text(roots: list[Root]) -> str:
    labels = sorted({r.label for r in roots})
    shown = ", ".join(labels[:MAX_LABELS_IN_DETAIL])
    more = f" and {len(labels) - MAX_LABELS_IN_DETAIL} more" if len(labels) > MAX_LABELS_IN_DETAIL else ""
    return f"reached from {shown}{more}"


# --- text format and Keras metadata -------------------------------------------------------------------

_TEXT_OP = re.compile(r'\bop:\s*"([A-Za-z0-9_>.]+)"')


def find_dangerous_ops_in_text(pbtxt: Location, display: str) -> list[Finding]:
    """Dangerous ops named anywhere in a text-format saved_model.pbtxt (reachability is not computed)."""
    text = read_bounded(pbtxt, f"{display}: {pbtxt.name}").decode("utf-8", errors="replace")
    findings = []
    for op in sorted({m.group(1) for m in _TEXT_OP.finditer(text)} & DANGEROUS_OPS.keys()):
        danger = DANGEROUS_OPS[op]
        findings.append(
            Finding(
                danger.severity,
                danger.kind,
                f"{pbtxt.name}: op {op}",
                f"{op} {danger.what} (text format: reachability not computed, so the saver's own I/O counts too)",
                op,
            )
        )
    return findings


def find_code_in_user_objects(models: list[MetaGraphModel]) -> list[Finding]:
    """Findings for the Keras configs TF 2.2-2.4 tf.keras kept in `SavedObject.user_object.metadata`.

    A SavedModel of that era has no keras_metadata.pb: tf_keras' `load_model` falls back to these
    strings and rebuilds the layers from them, Lambda bytecode included.
    """
    findings: list[Finding] = []
    for model in models:
        for node_path, identifier, text in model.user_objects:
            if not identifier.startswith("_tf_keras"):
                continue
            try:
                config = json.loads(text)
            except (json.JSONDecodeError, RecursionError):
                continue  # not a Keras config: nothing a Keras loader would rebuild
            for danger in find_code_in_config(config):
                where = f"saved_model.pb:user_object {node_path}" + (
                    "" if danger.location == "<root>" else f".{danger.location}"
                )
                findings.append(Finding(danger.severity, danger.kind, where, danger.detail, danger.technique))
    return findings


def find_code_in_keras_metadata(path: Location, display: str) -> list[Finding]:
    """Findings for the Keras layer configs tf_keras stores in a SavedModel's keras_metadata.pb.

    tf_keras' `load_model` rebuilds layers from these JSON configs, Lambda bytecode included.
    """
    what = f"{display}: {path.name}"
    fields = pw.parse_message(read_bounded(path, what), what)
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
            findings.append(Finding(danger.severity, danger.kind, where, danger.detail, danger.technique))
    return findings
