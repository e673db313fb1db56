"""Emulate tf.train.Checkpoint.restore: match the live object graph to the checkpoint's, root to anchor,
children by local name, as TensorFlow's _CheckpointPosition binding does."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

from ckptdiff.artifact import Artifact, ObjectGraph, TensorEntry
from ckptdiff.errors import CkptdiffError
from ckptdiff.live.model import KIND_CHECKPOINT, LiveModel
from ckptdiff.match.compare import compare_entry
from ckptdiff.match.hints import Hint, find_layer_shift
from ckptdiff.match.interface import (
    DTYPE_MISMATCH,
    LOADER_DESCRIPTIONS,
    LOADER_OBJECT_GRAPH,
    MATCHED,
    MISSING,
    SHAPE_MISMATCH,
    LoaderEmulator,
    LoaderResult,
    Pairing,
)
from ckptdiff.report.interface import PartialFinding

VARIABLE_VALUE = "VARIABLE_VALUE"
_ANCHOR_DEPTH = 2
_MAX_ANCHORS = 64


def _bind(live: LiveModel, graph: ObjectGraph, anchor: int) -> dict[int, int]:
    """Breadth-first co-traversal in the checkpoint's child order, as restore walks it: live node -> checkpoint node.

    The first binding of a live object wins. The dict's insertion order is the order values are assigned in.
    """
    bound: dict[int, int] = {0: anchor}
    queue = deque([(0, anchor)])
    while queue:
        live_id, ckpt_id = queue.popleft()
        live_children: dict[str, int] = {}
        for name, child in live.graph[live_id].children:
            live_children.setdefault(name, child)
        for ref in graph.nodes[ckpt_id].children:
            found_child = live_children.get(ref.local_name)
            if found_child is None or found_child in bound:
                continue
            bound[found_child] = ref.node_id
            queue.append((found_child, ref.node_id))
    return bound


def _variable_key(graph: ObjectGraph, node: int) -> str | None:
    for attr in graph.nodes[node].attributes:
        if attr.name == VARIABLE_VALUE:
            return attr.checkpoint_key
    return None


def _candidate_anchors(graph: ObjectGraph) -> list[tuple[int, str]]:
    """The root and the containers up to two levels below it, with their paths.

    Variables are never anchors, and at most _MAX_ANCHORS candidates are scored, so a root with
    100,000 children costs 64 bindings, not 100,000.
    """
    found = [(0, "")]
    frontier = [(0, "")]
    for _ in range(_ANCHOR_DEPTH):
        nxt: list[tuple[int, str]] = []
        for node, path in frontier:
            for ref in graph.nodes[node].children:
                if graph.nodes[ref.node_id].attributes or len(found) + len(nxt) >= _MAX_ANCHORS:
                    continue
                child_path = f"{path}/{ref.local_name}" if path else ref.local_name
                nxt.append((ref.node_id, child_path))
        found.extend(nxt)
        frontier = nxt
    return found


def _score(live: LiveModel, graph: ObjectGraph, anchor: int) -> int:
    bound = _bind(live, graph, anchor)
    return sum(
        1
        for live_id, ckpt_id in bound.items()
        if live.graph[live_id].variable is not None and _variable_key(graph, ckpt_id) is not None
    )


def choose_anchor(live: LiveModel, graph: ObjectGraph) -> tuple[int, str]:
    """The checkpoint node the live root should be matched to.

    A live tf.train.Checkpoint is matched root to root (that is what restore does). Anything
    else is matched to whichever of the root and its descendants two levels down binds the most
    variables, preferring the shallower node on ties: `model` for tf.train.Checkpoint(model=m).
    """
    if live.kind == KIND_CHECKPOINT:
        return 0, ""
    best = (0, "")
    best_score = -1
    seen: set[int] = set()
    for node, path in _candidate_anchors(graph):
        if node in seen:
            continue
        seen.add(node)
        score = _score(live, graph, node)
        if score > best_score:
            best, best_score = (node, path), score
    return best


def match_object_graph(artifact: Artifact, live: LiveModel) -> LoaderResult:
    """Pair every live variable with the checkpoint entry an object-based restore would read.

    Args:
        artifact: a TF2 checkpoint or SavedModel whose object graph was decoded.
        live: the live model.

    Returns:
        The pairings, the keys consumed (variables and the optimizer slots of matched
        variables), and the anchor used.
    """
    graph = artifact.object_graph
    if graph is None:
        raise CkptdiffError(
            f"{artifact.path}: {artifact.format} has no object graph; use --loader by-name for name-based checkpoints"
        )
    entries: dict[str, TensorEntry] = artifact.by_key
    anchor, anchor_path = choose_anchor(live, graph)
    bound = _bind(live, graph, anchor)
    var_node = {node.variable: i for i, node in enumerate(live.graph) if node.variable is not None}
    pairings = []
    consumed: set[str] = set()
    for var in live.variables:
        live_node = var_node.get(var.index)
        if live_node is None:
            pairings.append(
                Pairing(var.index, MISSING, None, "not reachable through the model's checkpoint dependencies")
            )
            continue
        ckpt_node = bound.get(live_node)
        if ckpt_node is None:
            pairings.append(Pairing(var.index, MISSING, None, "no checkpoint object under the same local names"))
            continue
        key = _variable_key(graph, ckpt_node)
        if key is None or key not in entries:
            pairings.append(Pairing(var.index, MISSING, None, f"checkpoint node {ckpt_node} holds no value"))
            continue
        consumed.add(key)
        pairings.append(compare_entry(var, entries[key], f"object graph node {ckpt_node}"))
    consumed |= _restored_slots(graph, bound, entries)
    pairings, outcome = _apply_first_failure(live, pairings)
    where = f"checkpoint node '{anchor_path}'" if anchor_path else "the checkpoint root"
    live_paths = live_node_paths(live)
    prefix = f"{anchor_path}/" if anchor_path else ""
    wanted = {
        var.index: f"{prefix}{live_paths[node]}/.ATTRIBUTES/{VARIABLE_VALUE}"
        for var in live.variables
        if (node := var_node.get(var.index)) is not None and node in live_paths
    }
    return LoaderResult(
        loader=LOADER_OBJECT_GRAPH,
        pairings=tuple(pairings),
        consumed=frozenset(consumed),
        anchor=anchor_path or "/",
        outcome=outcome,
        notes=(f"live model root matched to {where}",),
        wanted=wanted,
    )


def _apply_first_failure(live: LiveModel, pairings: list[Pairing]) -> tuple[list[Pairing], str]:
    """restore() raises ValueError on the first shape or dtype it cannot assign; what it assigned before stays.

    TensorFlow's saver reads the matched tensors in one batch and assigns them in checkpoint-key order
    (observed: `layer_with_weights-2/bias` fails before `.../kernel`), so that is the order emulated.
    """
    order = sorted((p for p in pairings if p.key is not None), key=lambda p: p.key or "")
    failure = next((p for p in order if p.status in (SHAPE_MISMATCH, DTYPE_MISMATCH)), None)
    if failure is None:
        return pairings, (
            "restore() assigns every matched variable; unmatched objects only warn when the status object is "
            "garbage collected (assert_consumed() would raise)"
        )
    failed_path = live.variables[failure.variable].path
    after = {p.variable for p in order[order.index(failure) + 1 :]}
    updated = [
        Pairing(
            p.variable, MISSING, p.key, f"{p.detail}; not assigned: restore() raised ValueError at {failed_path} first"
        )
        if p.variable in after and p.status == MATCHED
        else p
        for p in pairings
    ]
    restored = sum(1 for p in updated if p.status == MATCHED)
    return updated, (
        f"restore() raises ValueError (incompatible tensor) at {failed_path}: {restored} variable(s) assigned "
        f"before it keep the checkpoint's values, the rest keep fresh values"
    )


def live_node_paths(live: LiveModel) -> dict[int, str]:
    """The first breadth-first path of every live node (the path TF would save it under)."""
    paths = {0: ""}
    queue = deque([0])
    while queue:
        node = queue.popleft()
        for name, child in live.graph[node].children:
            if child not in paths:
                paths[child] = f"{paths[node]}/{name}" if paths[node] else name
                queue.append(child)
    return paths


def _restored_slots(graph: ObjectGraph, bound: dict[int, int], entries: dict[str, TensorEntry]) -> set[str]:
    """Slot variables are restored when both their optimizer and their original variable are bound."""
    bound_ckpt = set(bound.values())
    keys: set[str] = set()
    for node_id, node in enumerate(graph.nodes):
        if node_id not in bound_ckpt:
            continue
        for slot in node.slot_variables:
            if slot.original_node_id in bound_ckpt:
                key = _variable_key(graph, slot.slot_node_id)
                if key in entries:
                    keys.add(key)
    return keys


def slot_coverage(artifact: Artifact) -> dict[int, set[str]]:
    """For each checkpoint node with optimizer slots: the slot names the checkpoint stores for it."""
    graph = artifact.object_graph
    coverage: dict[int, set[str]] = {}
    if graph is None:
        return coverage
    for node in graph.nodes:
        for slot in node.slot_variables:
            coverage.setdefault(slot.original_node_id, set()).add(slot.slot_name)
    return coverage


def partial_optimizer(
    artifact: Artifact, live: LiveModel, result: LoaderResult, ignored: Callable[..., bool]
) -> list[PartialFinding]:
    """Optimizer slots stored for only some of the restored trainable variables (a resume restarts the rest at zero)."""
    if artifact.object_graph is None:
        return []
    coverage = slot_coverage(artifact)
    if not coverage:
        return []
    graph = artifact.object_graph
    covered_keys = {}
    for node_id, slots in coverage.items():
        for attr in graph.nodes[node_id].attributes:
            if attr.name == VARIABLE_VALUE:
                covered_keys[attr.checkpoint_key] = slots
    restored = [
        (live.variables[p.variable], p.key)
        for p in result.pairings
        if p.status == MATCHED
        and live.variables[p.variable].trainable
        and not ignored(live.variables[p.variable].path, p.key)
    ]
    with_slots = tuple(v.path for v, key in restored if key in covered_keys)
    without = tuple(v.path for v, key in restored if key not in covered_keys)
    if not with_slots or not without:
        return []
    slot_names = sorted({s for slots in covered_keys.values() for s in slots})
    return [
        PartialFinding(
            object="optimizer",
            kind="optimizer",
            restored=with_slots,
            not_restored=without,
            detail=(
                f"optimizer slots ({', '.join(slot_names)}) cover {len(with_slots)} of {len(restored)} restored "
                "trainable "
                f"variables; resuming training restarts the others' moments at zero"
            ),
        )
    ]


class ObjectGraphLoader(LoaderEmulator):
    """`tf.train.Checkpoint.restore` and tf_keras `load_weights` of a TF-format checkpoint."""

    name = LOADER_OBJECT_GRAPH
    description = LOADER_DESCRIPTIONS[LOADER_OBJECT_GRAPH]

    def match(self, artifact: Artifact, live: LiveModel) -> LoaderResult:
        return match_object_graph(artifact, live)

    def partial_findings(
        self, artifact: Artifact, live: LiveModel, result: LoaderResult, ignored: Callable[..., bool]
    ) -> list[PartialFinding]:
        return partial_optimizer(artifact, live, result, ignored)

    def shift_hint(self, live: LiveModel, result: LoaderResult, entries: list[TensorEntry]) -> Hint | None:
        current = {p.variable: p.key for p in result.pairings}
        return find_layer_shift(list(live.variables), result.wanted, entries, current)
