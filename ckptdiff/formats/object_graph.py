"""The TrackableObjectGraph of a TF2 checkpoint: decode it and give every tensor all its object paths."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from ckptdiff.artifact import (
    Group,
    ObjectGraph,
    ObjectNode,
    ObjectReference,
    SerializedAttribute,
    SlotVariableReference,
    TensorEntry,
)
from ckptdiff.errors import CorruptArtifact
from ckptdiff.formats import protowire as pw

# tensorflow/core/protobuf/trackable_object_graph.proto
GRAPH_NODES = 1
NODE_CHILDREN = 1
NODE_ATTRIBUTES = 2
NODE_SLOT_VARIABLES = 3
REF_NODE_ID = 1
REF_LOCAL_NAME = 2
ATTR_NAME = 1
ATTR_FULL_NAME = 2
ATTR_CHECKPOINT_KEY = 3
SLOT_ORIGINAL_NODE_ID = 1
SLOT_NAME = 2
SLOT_NODE_ID = 3

MAX_PATHS_PER_NODE = 64
"""Paths kept per node: shared sub-objects can be reached in exponentially many ways; the first 64 by BFS are kept."""
MAX_PATH_CHARS = 1 << 26
"""All paths of a graph together; real graphs need a few MB (about the size of their checkpoint keys)."""
MAX_CYCLE_CHECK_STEPS = 1 << 24
"""Steps spent extending extra paths and checking they do not loop; once spent, only first paths are added."""
ESCAPE_CHAR = "."
OBJECT_ATTRIBUTES = ".ATTRIBUTES"
VARIABLE_VALUE = "VARIABLE_VALUE"
OPTIMIZER_SLOT = ".OPTIMIZER_SLOT"
OPTIMIZER_NAME = "optimizer"
SAVE_COUNTER = "save_counter"
TRAINABLE_VARIABLES = "_trainable_variables"
"""A Keras 3 optimizer tracks the variables it trains under this list: they are the model's."""


def escape_local_name(name: str) -> str:
    """Escape one path component as TensorFlow does for checkpoint keys ('.' -> '..', '/' -> '.S')."""
    return name.replace(ESCAPE_CHAR, ESCAPE_CHAR * 2).replace("/", ESCAPE_CHAR + "S")


def read_object_graph(data: bytes | memoryview, context: str) -> ObjectGraph:
    """Decode a serialized TrackableObjectGraph and compute every node's paths from the root.

    Args:
        data: the `_CHECKPOINTABLE_OBJECT_GRAPH` string's bytes.
        context: the file and key, for error messages.

    Returns:
        The graph; `paths[i]` lists node i's paths (escaped local names joined by '/'), shortest
        first, the first being the one TensorFlow saves under. At most MAX_PATHS_PER_NODE per node.

    Raises:
        CorruptArtifact: the bytes are not a TrackableObjectGraph or reference missing nodes.
    """
    fields = pw.parse_message(data, context)
    nodes = tuple(
        _parse_node(raw, f"{context}: node {i}")
        for i, raw in enumerate(pw.get_repeated_bytes(fields, GRAPH_NODES, context))
    )
    _check_node_ids(nodes, context)
    return ObjectGraph(nodes=nodes, paths=compute_paths(nodes, context))


def _parse_node(raw: memoryview, context: str) -> ObjectNode:
    fields = pw.parse_message(raw, context)
    children = []
    for ref in pw.get_repeated_bytes(fields, NODE_CHILDREN, context):
        f = pw.parse_message(ref, context)
        children.append(
            ObjectReference(
                node_id=pw.get_int(f, REF_NODE_ID, context, signed=True),
                local_name=pw.get_str(f, REF_LOCAL_NAME, context),
            )
        )
    attributes = []
    for attr in pw.get_repeated_bytes(fields, NODE_ATTRIBUTES, context):
        f = pw.parse_message(attr, context)
        attributes.append(
            SerializedAttribute(
                name=pw.get_str(f, ATTR_NAME, context),
                full_name=pw.get_str(f, ATTR_FULL_NAME, context),
                checkpoint_key=pw.get_str(f, ATTR_CHECKPOINT_KEY, context),
            )
        )
    slots = []
    for slot in pw.get_repeated_bytes(fields, NODE_SLOT_VARIABLES, context):
        f = pw.parse_message(slot, context)
        slots.append(
            SlotVariableReference(
                original_node_id=pw.get_int(f, SLOT_ORIGINAL_NODE_ID, context, signed=True),
                slot_name=pw.get_str(f, SLOT_NAME, context),
                slot_node_id=pw.get_int(f, SLOT_NODE_ID, context, signed=True),
            )
        )
    return ObjectNode(children=tuple(children), attributes=tuple(attributes), slot_variables=tuple(slots))


def _check_node_ids(nodes: tuple[ObjectNode, ...], context: str) -> None:
    n = len(nodes)
    for i, node in enumerate(nodes):
        ids = [c.node_id for c in node.children]
        ids += [s.original_node_id for s in node.slot_variables] + [s.slot_node_id for s in node.slot_variables]
        bad = [x for x in ids if not 0 <= x < n]
        if bad:
            raise CorruptArtifact(f"{context}: node {i} references node {bad[0]}, but the graph has {n} nodes")


class _PathBudget:
    """Bounds the work and memory of path enumeration on hostile graphs (deep chains, dense diamonds)."""

    def __init__(self) -> None:
        self.chars = MAX_PATH_CHARS
        self.steps = MAX_CYCLE_CHECK_STEPS

    def take_chars(self, n: int) -> bool:
        self.chars -= n
        return self.chars >= 0


def compute_paths(nodes: tuple[ObjectNode, ...], context: str = "object graph") -> tuple[tuple[str, ...], ...]:
    """Every node's paths from node 0, breadth first, ties in child order; cycle-safe and capped.

    The first path of a node is the one TensorFlow's breadth-first naming gives it. Further paths
    never visit a node twice; at most MAX_PATHS_PER_NODE are kept per node, and none once the
    graph-wide budgets (MAX_PATH_CHARS, MAX_CYCLE_CHECK_STEPS) are spent. Slot variables, which are
    not children of anything, get `<variable path>/.OPTIMIZER_SLOT/<optimizer path>/<slot>`.

    Raises:
        CorruptArtifact: the first paths alone exceed MAX_PATH_CHARS.
    """
    if not nodes:
        return ()
    found: list[list[str]] = [[] for _ in nodes]
    found[0].append("")
    # The queue is parallel lists; parents let a path be walked back to test for cycles.
    item_node, item_parent, item_path, item_first = [0], [-1], [""], [True]
    budget = _PathBudget()
    head = 0
    while head < len(item_node):
        path = item_path[head]
        children = nodes[item_node[head]].children
        if not item_first[head]:
            # Extending a further path finds only further paths: its node's first path found the rest.
            budget.steps -= len(children)
            if budget.steps < 0:
                head += 1
                continue
        for child in children:
            target = child.node_id
            first = not found[target]  # a node with no path yet cannot be on this one
            if not first and (
                len(found[target]) >= MAX_PATHS_PER_NODE or _on_path(target, head, item_node, item_parent, budget)
            ):
                continue
            name = escape_local_name(child.local_name)
            child_path = f"{path}/{name}" if path else name
            if not budget.take_chars(len(child_path)):
                if first:
                    raise CorruptArtifact(f"{context}: object paths exceed {MAX_PATH_CHARS} characters")
                continue
            found[target].append(child_path)
            item_node.append(target)
            item_parent.append(head)
            item_path.append(child_path)
            item_first.append(first)
        head += 1
    _add_slot_paths(nodes, found, budget)
    return tuple(tuple(p) for p in found)


def _on_path(target: int, item: int, item_node: list[int], item_parent: list[int], budget: _PathBudget) -> bool:
    """Whether target lies on the path of queue item `item` (True too once the budget is spent)."""
    while item >= 0:
        budget.steps -= 1
        if budget.steps < 0 or item_node[item] == target:
            return True
        item = item_parent[item]
    return False


def _add_slot_paths(nodes: tuple[ObjectNode, ...], found: list[list[str]], budget: _PathBudget) -> None:
    for optimizer_id, optimizer in enumerate(nodes):
        for slot in optimizer.slot_variables:
            target = found[slot.slot_node_id]
            slot_name = escape_local_name(slot.slot_name)
            for variable_path in list(found[slot.original_node_id]):
                for optimizer_path in list(found[optimizer_id]):
                    path = f"{variable_path}/{OPTIMIZER_SLOT}/{optimizer_path}/{slot_name}"
                    if len(target) < MAX_PATHS_PER_NODE and budget.take_chars(len(path)):
                        target.append(path)


def attach_object_paths(entries: Iterable[TensorEntry], graph: ObjectGraph) -> list[TensorEntry]:
    """Give each entry named by a node attribute that node's paths, and refine its group.

    A variable's value (`VARIABLE_VALUE`) is known by its node's paths; any other attribute by
    `<node path>/.ATTRIBUTES/<name>`, as its checkpoint key spells it. A tensor that the root reaches
    other than through the optimizer (or the optimizer's `_trainable_variables`) is a model weight,
    whatever its storage key says: Keras 3 stores model kernels under `optimizer/_trainable_variables/N`.

    Returns:
        The entries in the same order, with paths and group set.
    """
    by_key: dict[str, tuple[int, SerializedAttribute]] = {}
    for node_id, node in enumerate(graph.nodes):
        for attr in node.attributes:
            by_key.setdefault(attr.checkpoint_key, (node_id, attr))
    slot_nodes = {s.slot_node_id for node in graph.nodes for s in node.slot_variables}
    optimizers = optimizer_nodes(graph)
    children_by_name = [_children_by_name(node) for node in graph.nodes]
    out = []
    for entry in entries:
        hit = by_key.get(entry.key)
        if hit is None:
            out.append(entry)
            continue
        node_id, attr = hit
        node_paths = graph.paths[node_id] if node_id < len(graph.paths) else ()
        if attr.name == VARIABLE_VALUE:
            paths = node_paths
        else:
            suffix = f"{OBJECT_ATTRIBUTES}/{escape_local_name(attr.name)}"
            paths = tuple(f"{p}/{suffix}" if p else suffix for p in node_paths)
        group = entry.group
        if group != Group.BOOKKEEPING:
            group = (
                Group.OPTIMIZER
                if node_id in slot_nodes
                else _group_from_paths(children_by_name, node_paths, optimizers, group)
            )
        out.append(replace(entry, paths=paths, group=group))
    return out


def optimizer_nodes(graph: ObjectGraph) -> frozenset[int]:
    """Nodes that are optimizers: anything tracked under the local name `optimizer`, and owners of slot variables."""
    found = {i for i, node in enumerate(graph.nodes) if node.slot_variables}
    for node in graph.nodes:
        found.update(c.node_id for c in node.children if c.local_name == OPTIMIZER_NAME)
    return frozenset(found)


def _children_by_name(node: ObjectNode) -> dict[str, int]:
    found: dict[str, int] = {}
    for child in node.children:
        found.setdefault(escape_local_name(child.local_name), child.node_id)
    return found


def _group_from_paths(
    children_by_name: list[dict[str, int]], node_paths: tuple[str, ...], optimizers: frozenset[int], default: Group
) -> Group:
    """`model` when some path avoids every optimizer (or enters one only through `_trainable_variables`)."""
    through_optimizer = False
    for path in node_paths:
        kind = _path_kind(children_by_name, path, optimizers)
        if kind == "model":
            return Group.MODEL
        through_optimizer = through_optimizer or kind == "optimizer"
    return Group.OPTIMIZER if through_optimizer else default


def _path_kind(children_by_name: list[dict[str, int]], path: str, optimizers: frozenset[int]) -> str:
    parts = path.split("/") if path else []
    if parts and parts[0] == SAVE_COUNTER:
        return Group.BOOKKEEPING
    node_id = 0
    for part in parts:
        if node_id in optimizers:
            return Group.MODEL if part == TRAINABLE_VARIABLES else Group.OPTIMIZER
        if part == OPTIMIZER_SLOT:
            return Group.OPTIMIZER
        node_id = children_by_name[node_id].get(part, -1)
        if node_id < 0:
            return "unknown"
    return Group.OPTIMIZER if node_id in optimizers else Group.MODEL


__all__ = [
    "read_object_graph",
    "compute_paths",
    "attach_object_paths",
    "escape_local_name",
    "optimizer_nodes",
    "MAX_PATHS_PER_NODE",
]
