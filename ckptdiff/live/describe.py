"""describe_live_model: turn a Keras 3 / tf_keras model, tf.Module or tf.train.Checkpoint into a LiveModel."""

from __future__ import annotations

import sys
from typing import Any

import numpy as np

from ckptdiff.artifact import Group
from ckptdiff.errors import BadModelSpec
from ckptdiff.live.model import (
    KIND_CHECKPOINT,
    KIND_KERAS3,
    KIND_MODULE,
    KIND_TF_KERAS,
    LiveLayer,
    LiveModel,
    LiveNode,
    LiveVariable,
)
from ckptdiff.stats.initializers import INITIALIZER_ATTRIBUTES
from ckptdiff.tf_import import import_tensorflow

_MAX_GRAPH_NODES = 1_000_000


def _keras3_variable_class() -> type | None:
    keras = sys.modules.get("keras")
    return getattr(keras, "Variable", None) if keras is not None else None


def _is_variable(obj: Any, tf: Any) -> bool:
    return isinstance(obj, tf.Variable) or _is_keras_variable(obj)


def model_kind(obj: Any) -> str:
    """Classify the object a factory returned."""
    tf = import_tensorflow()
    module = type(obj).__module__
    if isinstance(obj, tf.train.Checkpoint):
        return KIND_CHECKPOINT
    if module.startswith("tf_keras") or "tf_keras" in sys.modules and _is_tf_keras_model(obj):
        return KIND_TF_KERAS
    keras = sys.modules.get("keras")
    if keras is not None and isinstance(obj, keras.Model):
        return KIND_KERAS3
    if isinstance(obj, tf.Module):
        return KIND_MODULE
    raise BadModelSpec(
        f"the factory returned a {type(obj).__module__}.{type(obj).__name__}; expected a Keras 3 model, "
        "a tf_keras model, a tf.Module or a tf.train.Checkpoint"
    )


def _is_tf_keras_model(obj: Any) -> bool:
    tf_keras = sys.modules.get("tf_keras")
    return tf_keras is not None and isinstance(obj, tf_keras.Model)


class _VariableTable:
    """Assigns one index per distinct variable object, whichever way it is reached."""

    def __init__(self, tf: Any) -> None:
        self.tf = tf
        self.by_id: dict[int, int] = {}
        self.objects: list[Any] = []
        self.owner: dict[int, tuple[str, Any]] = {}

    def index(self, var: Any) -> int:
        key = id(var)
        if key not in self.by_id:
            self.by_id[key] = len(self.objects)
            self.objects.append(var)
        return self.by_id[key]


def _strip_index(name: str) -> str:
    return name[:-2] if name.endswith(":0") else name


def _variable_record(index: int, var: Any, owner: tuple[str, Any] | None, kind: str, group: str) -> LiveVariable:
    layer_name, layer = owner if owner else (None, None)
    short = _strip_index(str(getattr(var, "name", f"variable_{index}")))
    if kind == KIND_KERAS3 or _is_keras_variable(var):
        # Optimizer variables by name under `optimizer/`: their Keras path embeds the optimizer's
        # auto-numbered name (`adam_1/...`), which depends on what else the process built.
        fallback = f"optimizer/{short}" if group == "optimizer" else str(getattr(var, "path", short))
        path = f"{layer_name}/{short}" if layer_name else fallback
        tf1_name = _strip_index(str(getattr(var, "path", short)))
    else:
        path = short
        tf1_name = short
    init = _initializer_config(layer, short.rsplit("/", 1)[-1]) if layer is not None else None
    try:
        fresh = np.array(var.numpy(), copy=True)
    except Exception:  # a variable without a value yet (uninitialised TF1 style)
        fresh = None
    return LiveVariable(
        index=index,
        path=path,
        name=tf1_name,
        shape=tuple(int(d) for d in var.shape),
        dtype=np.dtype(var.dtype.as_numpy_dtype).name if hasattr(var.dtype, "as_numpy_dtype") else str(var.dtype),
        trainable=bool(getattr(var, "trainable", True)),
        layer=layer_name,
        group=group,
        initializer=init,
        fresh=fresh,
    )


def _initializer_config(layer: Any, var_name: str) -> dict | None:
    """The initializer a layer (or its cell) was configured with for one of its variables."""
    init = None
    for owner in (layer, getattr(layer, "cell", None)):
        for attribute in INITIALIZER_ATTRIBUTES.get(var_name, (f"{var_name}_initializer",)):
            init = getattr(owner, attribute, None) if owner is not None else None
            if init is not None:
                break
        if init is not None:
            break
    if init is None:
        return None
    get_config = getattr(init, "get_config", None)
    config = get_config() if callable(get_config) else {}
    return {"class_name": type(init).__name__, "config": {k: v for k, v in config.items() if _plain(v)}}


def _plain(value: Any) -> bool:
    if isinstance(value, (list, tuple)):
        return all(_plain(v) for v in value)
    return value is None or isinstance(value, (str, int, float, bool))


def _object_graph(root: Any, table: _VariableTable, tf: Any) -> tuple[LiveNode, ...]:
    """Breadth-first over checkpoint dependencies, as tf.train.Checkpoint walks them to save."""
    view = tf.train.TrackableView(root)
    node_of: dict[int, int] = {id(root): 0}
    order: list[Any] = [root]
    children: list[list[tuple[str, int]]] = [[]]
    i = 0
    while i < len(order):
        obj = order[i]
        try:
            kids = view.children(obj)
        except Exception:
            kids = {}
        for name, child in kids.items():
            if id(child) not in node_of:
                if len(order) >= _MAX_GRAPH_NODES:
                    raise BadModelSpec(f"the model's object graph has more than {_MAX_GRAPH_NODES} nodes")
                node_of[id(child)] = len(order)
                order.append(child)
                children.append([])
            children[i].append((str(name), node_of[id(child)]))
        i += 1
    return tuple(
        LiveNode(
            kind=type(obj).__name__,
            children=tuple(children[n]),
            variable=table.index(obj) if _is_variable(obj, tf) else None,
            optimizer=_is_optimizer(obj),
        )
        for n, obj in enumerate(order)
    )


def _reachable_variables(graph: tuple[LiveNode, ...], starts: list[int], *, enter_optimizers: bool) -> set[int]:
    """Variable indices reachable from the start nodes, optionally without entering optimizer nodes."""
    seen = set(starts)
    stack = list(starts)
    found: set[int] = set()
    while stack:
        node = graph[stack.pop()]
        if node.variable is not None:
            found.add(node.variable)
        for _, child in node.children:
            if child not in seen and (enter_optimizers or not graph[child].optimizer):
                seen.add(child)
                stack.append(child)
    return found


def _is_optimizer(obj: Any) -> bool:
    return callable(getattr(obj, "apply_gradients", None)) and not callable(getattr(obj, "fit", None))


def _keras_layers(model: Any, table: _VariableTable) -> tuple[LiveLayer, ...]:
    layers = []
    for layer in getattr(model, "layers", []):
        weights = list(layer.trainable_weights) + list(layer.non_trainable_weights)
        indices = []
        for w in weights:
            idx = table.index(w)
            table.owner.setdefault(id(w), (layer.name, layer))
            indices.append(idx)
        layers.append(LiveLayer(name=layer.name, class_name=type(layer).__name__, weights=tuple(indices)))
    return tuple(layers)


STATE_TREE_COLLECTIONS = ("trainable_variables", "non_trainable_variables", "optimizer_variables", "metrics_variables")
"""The keys of Keras 3's `Model.get_state_tree()`, in the order `set_state_tree` reads them."""


def _keras3_state_tree(model: Any, table: _VariableTable) -> tuple[tuple[str, str, int], ...]:
    """What `Model.set_state_tree` can assign: the same collections it walks (keras/src/models/model.py)."""
    optimizer = getattr(model, "optimizer", None)
    collections = {
        "trainable_variables": list(model.trainable_variables),
        "non_trainable_variables": list(model.non_trainable_variables),
        "optimizer_variables": list(optimizer.variables) if optimizer is not None else [],
        "metrics_variables": list(getattr(model, "metrics_variables", None) or []),
    }
    # Only variables the model description already holds (metric accumulators are left out of every check).
    return tuple(
        (collection, str(v.path), table.by_id[id(v)])
        for collection in STATE_TREE_COLLECTIONS
        for v in collections[collection]
        if id(v) in table.by_id
    )


def _keras3_store_layout(model: Any, table: _VariableTable) -> tuple[tuple[str, tuple[int, ...]], ...]:
    """Run Keras 3's own saver walk against a recording store: the container paths and variables it writes."""
    from keras.src.saving import saving_lib

    class RecordingStore(saving_lib.H5IOStore):
        def __init__(self) -> None:  # no file: only record what the walk writes
            self.records: dict[str, dict[str, Any]] = {}

        def make(self, path: str, metadata: Any = None) -> dict[str, Any]:
            return self.records.setdefault(path, {})

        def __bool__(self) -> bool:
            return True

    store = RecordingStore()
    saving_lib._save_state(model, weights_store=store, assets_store=None, inner_path="", visited_saveables=set())
    layout = []
    for path, items in store.records.items():
        if not items:
            continue
        ordered = [v for _, v in sorted(items.items(), key=lambda kv: int(kv[0]) if kv[0].isdigit() else kv[0])]
        ordered = _lora_targets(ordered, table)
        if not all(_is_keras_variable(v) for v in ordered):
            # Optimizers save `variable.numpy()` copies: map them back to the owner's variables by position.
            owner = _resolve_attribute_path(model, path)
            owned = list(getattr(owner, "variables", []) or [])
            if len(owned) != len(ordered):
                continue
            ordered = owned
        layout.append((path, tuple(table.index(v) for v in ordered)))
    return tuple(layout)


def _lora_targets(ordered: list[Any], table: _VariableTable) -> list[Any]:
    """A LoRA-enabled layer saves its merged kernel (a tensor) first, and its load_own_variables assigns that to the
    base kernel (`_kernel`, `_embeddings`): put the variable the loader assigns in the tensor's place."""
    owners = [table.owner.get(id(v)) for v in ordered if _is_keras_variable(v)]
    layer = owners[0][1] if owners and owners[0] is not None else None
    if layer is None or not getattr(layer, "lora_enabled", False) or _is_keras_variable(ordered[0]):
        return ordered
    base = getattr(layer, "_kernel", None)
    if base is None:
        base = getattr(layer, "_embeddings", None)
    return [base, *ordered[1:]] if _is_keras_variable(base) else ordered


def _is_keras_variable(value: Any) -> bool:
    cls = _keras3_variable_class()
    return cls is not None and isinstance(value, cls)


def _resolve_attribute_path(model: Any, path: str) -> Any:
    """Follow `optimizer` or `layer/attr` attribute names from the model; None when a step is not an attribute."""
    obj = model
    for part in path.split("/"):
        obj = getattr(obj, part, None)
        if obj is None:
            return None
    return obj


def _keras3_owner_names(model: Any, table: _VariableTable) -> None:
    """Own every variable by the innermost layer that tracks it (nested models included)."""
    stack = list(getattr(model, "layers", []))
    while stack:
        layer = stack.pop()
        for w in getattr(layer, "weights", []):
            table.owner[id(w)] = (layer.name, layer)
        stack.extend(getattr(layer, "layers", []) or [])


def _own_by_nested_keras_models(root: Any, table: _VariableTable, tf: Any) -> None:
    """Inside a tf.train.Checkpoint or tf.Module, name variables by the layers of any Keras model it holds."""
    view = tf.train.TrackableView(root)
    seen = {id(root)}
    stack = [root]
    while stack:
        obj = stack.pop()
        if _is_keras_model(obj) and obj is not root:
            _keras3_owner_names(obj, table)
            continue
        try:
            children = view.children(obj)
        except Exception:
            continue
        for child in children.values():
            if id(child) not in seen:
                seen.add(id(child))
                stack.append(child)


def _is_keras_model(obj: Any) -> bool:
    for name in ("keras", "tf_keras"):
        module = sys.modules.get(name)
        if module is not None and isinstance(obj, module.Model):
            return True
    return False


def _unique_paths(records: list[LiveVariable], graph: tuple[LiveNode, ...]) -> tuple[LiveVariable, ...]:
    """Variables sharing a display path get their object-graph path instead, so every path names one variable."""
    from collections import Counter
    from dataclasses import replace

    counts = Counter(r.path for r in records)
    if all(c == 1 for c in counts.values()):
        return tuple(records)
    object_paths: dict[int, str] = {}
    names = {0: ""}
    order = [0]
    for node in order:
        for local, child in graph[node].children:
            if child not in names:
                names[child] = f"{names[node]}/{local}" if names[node] else local
                order.append(child)
                variable = graph[child].variable
                if variable is not None:
                    object_paths.setdefault(variable, names[child])
    return tuple(
        replace(r, path=object_paths.get(r.index, f"{r.path}#{r.index}")) if counts[r.path] > 1 else r for r in records
    )


def describe_live_model(obj: Any, spec: str, notes: tuple[str, ...] = ()) -> LiveModel:
    """Describe a live model for the matchers.

    Args:
        obj: what the factory returned (Keras 3 or tf_keras model, tf.Module, tf.train.Checkpoint).
        spec: the SPEC string, for reports.
        notes: what spec resolution decided (rebuilt from config, built with input shape...).

    Returns:
        The LiveModel, with every variable's fresh value copied.
    """
    tf = import_tensorflow()
    kind = model_kind(obj)
    table = _VariableTable(tf)
    layers = None
    keras3_store = None
    tf_keras_store = None
    keras3_state = None
    if kind in (KIND_KERAS3, KIND_TF_KERAS):
        if kind == KIND_KERAS3:
            _keras3_owner_names(obj, table)
        layers = _keras_layers(obj, table)
        if kind == KIND_KERAS3:
            keras3_store = _keras3_store_layout(obj, table)
    else:
        _own_by_nested_keras_models(obj, table, tf)
    graph = _object_graph(obj, table, tf)
    for var in list(getattr(obj, "variables", []) or []):
        table.index(var)
    if kind == KIND_KERAS3:
        keras3_state = _keras3_state_tree(obj, table)
    elif kind == KIND_TF_KERAS:
        from ckptdiff.live.tf_keras_layout import tf_keras_store_layout

        tf_keras_store = tf_keras_store_layout(obj, lambda v: table.by_id.get(id(v)))
    model_side = _reachable_variables(graph, [0], enter_optimizers=False)
    optimizer_side = _reachable_variables(graph, [i for i, n in enumerate(graph) if n.optimizer], enter_optimizers=True)
    variables = _unique_paths(
        [
            _variable_record(
                i,
                var,
                table.owner.get(id(var)),
                kind,
                Group.OPTIMIZER if i in optimizer_side and i not in model_side else Group.MODEL,
            )
            for i, var in enumerate(table.objects)
        ],
        graph,
    )
    name = str(getattr(obj, "name", type(obj).__name__) or type(obj).__name__)
    return LiveModel(
        spec=spec,
        kind=kind,
        name=name,
        variables=variables,
        graph=graph,
        layers=layers,
        keras3_store=keras3_store,
        tf_keras_store=tf_keras_store,
        keras3_state=keras3_state,
        notes=notes,
    )
