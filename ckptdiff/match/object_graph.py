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


def _bind(live: LiveModel, graph: ObjectGraph, anchor: int) -> dict[int, list[int]]:
    """Breadth-first co-traversal in the checkpoint's child order, as restore walks it: live node -> the checkpoint
    nodes bound to it, in binding order.

    As TensorFlow's CheckpointPosition.bind_object: a checkpoint node is bound to the first live object that
    reaches it; a later live object reaching it is not restored from it (TensorFlow logs "Inconsistent
    references"), and only a new binding's children are visited. A live object can be bound to several
    checkpoint nodes (it is then assigned from each).
    """
    owner: dict[int, int] = {anchor: 0}
    bound: dict[int, list[int]] = {0: [anchor]}
    queue = deque([(0, anchor)])
    while queue:
        live_id, ckpt_id = queue.popleft()
        live_children: dict[str, int] = {}
        for name, child in live.graph[live_id].children:
            live_children.setdefault(name, child)
        for ref in graph.nodes[ckpt_id].children:
            found_child = live_children.get(ref.local_name)
            if found_child is None or ref.node_id in owner:
                continue
            owner[ref.node_id] = found_child
            bound.setdefault(found_child, []).append(ref.node_id)
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
        for live_id, ckpt_ids in bound.items()
        if live.graph[live_id].variable is not None and any(_variable_key(graph, c) is not None for c in ckpt_ids)
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
    silent: list[tuple[str, str]] = []
    reached = _reached(graph, live, bound)
    taken_by = _taken_by(graph, live, bound)
    for var in live.variables:
        live_node = var_node.get(var.index)
        if live_node is None:
            pairings.append(
                Pairing(var.index, MISSING, None, "not reachable through the model's checkpoint dependencies")
            )
            continue
        ckpt_nodes = bound.get(live_node)
        if not ckpt_nodes:
            taken = taken_by(live_node)
            detail = "no checkpoint object under the same local names"
            if taken is not None:
                detail = (
                    f"its checkpoint object {taken[0]} was bound first to {taken[1]} by a shorter path: restore() "
                    "does not assign it here (TensorFlow logs 'Inconsistent references')"
                )
            pairings.append(Pairing(var.index, MISSING, None, detail))
            continue
        valued = [(k, c) for c in ckpt_nodes if (k := _variable_key(graph, c)) is not None and k in entries]
        if not valued:
            pairings.append(Pairing(var.index, MISSING, None, f"checkpoint node {ckpt_nodes[0]} holds no value"))
            continue
        consumed.update(k for k, _ in valued)
        # Every bound value is assigned, in checkpoint-key order (see _apply_first_failure): the last one stays.
        key, ckpt_node = max(valued)
        via = f"object graph node {ckpt_node}"
        if len(valued) > 1:
            others = ", ".join(k for k, _ in sorted(valued)[:-1])
            via += f", assigned last of {len(valued)} checkpoint objects bound to it (also {others})"
        if len(reached.get(live_node, set())) > 1:
            silent.append((var.path, key))
        pairings.append(compare_entry(var, entries[key], via))
    consumed |= _restored_slots(graph, {c for cs in bound.values() for c in cs}, entries)
    pairings, outcome = _apply_first_failure(live, pairings)
    where = f"checkpoint node '{anchor_path}'" if anchor_path else "the checkpoint root"
    live_paths = live_node_paths(live)
    prefix = f"{anchor_path}/" if anchor_path else ""
    wanted = {
        var.index: f"{prefix}{live_paths[node]}/.ATTRIBUTES/{VARIABLE_VALUE}"
        for var in live.variables
        if (node := var_node.get(var.index)) is not None and node in live_paths
    }
    hints: tuple[Hint, ...] = ()
    if silent:
        hints = (
            Hint(
                "inconsistent-references",
                f"{len(silent)} variable(s) are reached from several checkpoint objects (the model's paths and the "
                "optimizer's variable lists disagree, as when other layers are frozen than at save time): "
                "restore() assigns each from the last in key order, possibly another layer's value",
                pairs=tuple(silent),
                silent=tuple(silent),
            ),
        )
    return LoaderResult(
        loader=LOADER_OBJECT_GRAPH,
        pairings=tuple(pairings),
        consumed=frozenset(consumed),
        anchor=anchor_path or "/",
        outcome=outcome,
        notes=(f"live model root matched to {where}",),
        wanted=wanted,
        found_hints=hints,
    )


def _reached(graph: ObjectGraph, live: LiveModel, bound: dict[int, list[int]]) -> dict[int, set[int]]:
    """Live node -> the checkpoint variables its paths lead to. One when the checkpoint agrees with the model; more
    when the model's own path and the optimizer's variable list lead to different ones (then whichever restore()
    binds first, it is another layer's value for one of the paths)."""
    reached: dict[int, set[int]] = {}
    for parent, node in enumerate(live.graph):
        for ckpt_parent in bound.get(parent, ()):
            by_name = {ref.local_name: ref.node_id for ref in graph.nodes[ckpt_parent].children}
            for name, child in node.children:
                target = by_name.get(name)
                if target is not None and live.graph[child].variable is not None and _variable_key(graph, target):
                    reached.setdefault(child, set()).add(target)
    return reached


def _taken_by(
    graph: ObjectGraph, live: LiveModel, bound: dict[int, list[int]]
) -> Callable[[int], tuple[int, str] | None]:
    """For a live node: (checkpoint node, live path) when the checkpoint object its own path leads to was bound to
    another live object first; None when its path leads nowhere. The maps are built once, on the first call."""
    maps: list[tuple[dict[int, int], dict[int, list[tuple[int, str]]], dict[int, str]]] = []

    def taken(live_node: int) -> tuple[int, str] | None:
        if not maps:
            owner = {c: node for node, cs in bound.items() for c in cs}
            parents: dict[int, list[tuple[int, str]]] = {}
            for parent, node in enumerate(live.graph):
                for name, child in node.children:
                    parents.setdefault(child, []).append((parent, name))
            maps.append((owner, parents, live_node_paths(live)))
        owner, parents, paths = maps[0]
        for parent, name in parents.get(live_node, ()):
            for ckpt_parent in bound.get(parent, ()):
                for ref in graph.nodes[ckpt_parent].children:
                    taker = owner.get(ref.node_id)
                    if ref.local_name == name and taker is not None and taker != live_node:
                        return ref.node_id, paths.get(taker, f"live node {taker}")
        return None

    return taken


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


def _restored_slots(graph: ObjectGraph, bound_ckpt: set[int], entries: dict[str, TensorEntry]) -> set[str]:
    """Slot variables are restored when both their optimizer and their original variable are bound."""
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
