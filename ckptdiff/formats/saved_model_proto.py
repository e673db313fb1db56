"""The one decoder of `saved_model.pb`: field numbers, and each meta graph as a call graph with its roots.

tensorflow/core/protobuf/{saved_model,meta_graph,saver,saved_object_graph}.proto and
tensorflow/core/framework/{graph,function,node_def,attr_value}.proto, decoded with the bounds-checked
protobuf reader (no TensorFlow). The reader (tags, signatures, ops) and the scanner (what the roots
reach) both read this one model.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

from ckptdiff.errors import CorruptArtifact, UnreadableArtifact
from ckptdiff.formats import protowire as pw
from ckptdiff.storage import Location

MAX_PROTO_BYTES = (2 << 30) - 1
"""Protocol buffers cannot exceed 2 GiB."""

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
OBJECT_USER_OBJECT = 4
OBJECT_VARIABLE = 7
"""SavedObject.variable: a node that is a variable, whose value the variables bundle holds."""
USER_OBJECT_IDENTIFIER = 1
USER_OBJECT_METADATA = 3
"""SavedUserObject.metadata: the Keras layer config tf.keras (TF 2.2-2.4) kept here before keras_metadata.pb."""
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
    signatures: dict[str, dict[str, Any]] = field(default_factory=dict)
    """name -> method_name, inputs, outputs (sorted input and output keys)."""
    tensorflow_version: str = ""
    tensorflow_git_version: str = ""
    user_objects: list[tuple[str, str, str]] = field(default_factory=list)
    """(object path, identifier, metadata JSON) of every SavedUserObject that carries metadata."""
    problems: list[str] = field(default_factory=list)
    """Object-graph references outside the node list: TensorFlow could not load this meta graph."""
    variables: int = 0
    """Variable nodes of the object graph (TF2): each needs its value from the variables bundle."""

    @property
    def ops(self) -> set[str]:
        """Op types the graph and its functions use, library function names excluded."""
        used = {n.op for n in self.graph.values()} | {n.op for nodes in self.functions.values() for n in nodes}
        return {op for op in used if op and op not in self.functions}


@dataclass(frozen=True)
class SavedModelProto:
    """A decoded `saved_model.pb`."""

    schema_version: int
    meta_graphs: list[MetaGraphModel]


def read_saved_model_pb(pb: Location) -> SavedModelProto:
    """Decode every meta graph of a binary saved_model.pb into call graphs with their roots.

    Raises:
        CorruptArtifact: the bytes are not a SavedModel.
        UnreadableArtifact: the file cannot be read.
    """
    what = pb.display
    fields = pw.parse_message(read_bounded(pb, what), what)
    return SavedModelProto(
        schema_version=pw.get_int(fields, SAVED_MODEL_SCHEMA_VERSION, what),
        meta_graphs=[
            _read_meta_graph(raw, i, f"{what}: meta graph {i}")
            for i, raw in enumerate(pw.get_repeated_bytes(fields, SAVED_MODEL_META_GRAPHS, what))
        ],
    )


def read_bounded(path: Location, what: str) -> bytes:
    """The bytes of a protocol buffer file, refused past the 2 GiB no protobuf can exceed."""
    try:
        size = path.size()
        if size > MAX_PROTO_BYTES:
            raise CorruptArtifact(f"{what}: {size} bytes is larger than any protocol buffer can be")
        return path.read_bytes()
    except OSError as exc:
        raise UnreadableArtifact(f"{what}: cannot read ({exc.strerror})") from None


def _read_meta_graph(raw: memoryview, index: int, context: str) -> MetaGraphModel:
    meta = pw.parse_message(raw, context)
    info = pw.parse_message(pw.get_bytes(meta, META_INFO_DEF, context) or b"", context)
    model = MetaGraphModel(
        index=index,
        tags=tuple(pw.get_repeated_str(info, INFO_TAGS, context)),
        signatures=_read_signatures(meta, context),
        tensorflow_version=pw.get_str(info, INFO_TENSORFLOW_VERSION, context),
        tensorflow_git_version=pw.get_str(info, INFO_TENSORFLOW_GIT_VERSION, context),
    )
    graph = pw.parse_message(pw.get_bytes(meta, META_GRAPH_DEF, context) or b"", f"{context}: graph_def")
    library = pw.parse_message(pw.get_bytes(graph, GRAPH_LIBRARY, context) or b"", f"{context}: library")
    for raw_function in pw.get_repeated_bytes(library, LIBRARY_FUNCTION, context):
        function = pw.parse_message(raw_function, f"{context}: function")
        signature = pw.parse_message(pw.get_bytes(function, FUNCTION_SIGNATURE, context) or b"", context)
        name = pw.get_str(signature, OPDEF_NAME, context)
        nodes = tuple(
            _read_node(n, f"{context}: function {name}")
            for n in pw.get_repeated_bytes(function, FUNCTION_NODE_DEF, context)
        )
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
            t
            for t in (
                pw.get_str(saver_fields, n, context)
                for n in (SAVER_FILENAME_TENSOR, SAVER_SAVE_TENSOR, SAVER_RESTORE_OP)
            )
            if t
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
    nodes = [
        pw.parse_message(n, f"{what}: node {i}")
        for i, n in enumerate(pw.get_repeated_bytes(graph, OBJECT_GRAPH_NODES, what))
    ]
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
            check += [
                pw.get_int(saveable, n, what, signed=True)
                for n in (SAVEABLE_SAVE_FUNCTION, SAVEABLE_RESTORE_FUNCTION)
                if n in saveable
            ]
        bad = [x for x in check if not 0 <= x < len(nodes)]
        if bad:
            model.problems.append(
                f"{what}: node {i} references node {bad[0]}, but the object graph has {len(nodes)} nodes"
            )
            return []
        children.append(refs)
    paths = _first_paths(children)
    model.variables = sum(OBJECT_VARIABLE in node for node in nodes)
    for i, node in enumerate(nodes):
        user = pw.get_bytes(node, OBJECT_USER_OBJECT, what)
        if user is not None:
            fields = pw.parse_message(user, what)
            metadata = pw.get_str(fields, USER_OBJECT_METADATA, what)
            if metadata:
                identifier = pw.get_str(fields, USER_OBJECT_IDENTIFIER, what)
                model.user_objects.append((paths[i] or "<root>", identifier, metadata))
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
