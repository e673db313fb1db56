"""The container paths tf_keras' `.keras` / `.weights.h5` saver and loader walk, and what each holds.

tf_keras (Keras 2.15 and later, `tf_keras/src/saving/saving_lib.py`) saves and loads by one walk:
`_save_state` and `_load_state` visit the same trackables under the same inner paths. Each object's
attributes are walked in `sorted(dir(obj), reverse=True)` order, skipping dunders and `ATTR_SKIPLIST`;
a Layer, Optimizer, Metric or Loss is entered under `<path>/<attr>`, and the Keras trackables of a
list, tuple, set or dict under `<path>/<attr>/<snake_case(class)>[_<n>]`, numbered per class in
container order. A trackable already visited is skipped.

Layer.save_own_variables stores `_trainable_weights + _non_trainable_weights` as `"0"`, `"1"` ...;
the optimizer stores `optimizer.variables`. The store receives `numpy()` copies, so the walk is run
here with tf_keras' own helpers (`_walk_trackable`, `_is_keras_trackable`) and the variables taken from
the same lists the saver reads. A preprocessing layer with its own `load_own_variables` (lookup
tables, Normalization) keeps its own store layout: it is recorded as CUSTOM and its variables as
not loaded by this walk.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from typing import Any


class ContainerKind(enum.StrEnum):
    """How tf_keras' `load_own_variables` treats a container."""

    LAYER = "layer"
    """Layer.load_own_variables: raises unless the counts agree, then assigns in order."""
    OPTIMIZER = "optimizer"
    """Optimizer.load_own_variables: warns and skips when the counts differ."""
    CUSTOM = "custom"
    """A class with its own load_own_variables (lookup tables, Normalization): not emulated."""
    UNTRACKED = "untracked"
    """Variables the model description leaves out (a compiled model's metric accumulators): walked, not
    checked (the real loader would still raise if their counts differed)."""


def tf_keras_store_layout(
    model: Any, index: Callable[[Any], int | None]
) -> tuple[tuple[str, tuple[int, ...], str], ...]:
    """(container path, variable indices in store order, ContainerKind) in the order tf_keras visits them.

    Args:
        model: a tf_keras model.
        index: the variable table's index of a variable object, None for one the description leaves out.
    """
    from tf_keras.src.engine import base_layer
    from tf_keras.src.optimizers import optimizer as optimizer_lib
    from tf_keras.src.saving import saving_lib
    from tf_keras.src.utils import generic_utils

    layer_load = base_layer.Layer.load_own_variables
    layout: list[tuple[str, tuple[int, ...], str]] = []

    def own(trackable: Any, path: str) -> None:
        if not hasattr(trackable, "load_own_variables"):
            return
        if isinstance(trackable, optimizer_lib.Optimizer):
            variables, kind = list(trackable.variables), ContainerKind.OPTIMIZER
        elif type(trackable).load_own_variables is layer_load:
            trackable._update_trackables()
            variables = list(trackable._trainable_weights) + list(trackable._non_trainable_weights)
            kind = ContainerKind.LAYER
        else:
            layout.append((path, (), ContainerKind.CUSTOM))
            return
        indices = [index(v) for v in variables]
        known = tuple(i for i in indices if i is not None)
        layout.append((path, known, kind if len(known) == len(indices) else ContainerKind.UNTRACKED))

    def join(path: str, name: str) -> str:
        return f"{path}/{name}" if path else name

    def state(trackable: Any, path: str, visited: set[int]) -> None:
        if id(trackable) in visited:
            return
        own(trackable, path)
        visited.add(id(trackable))
        for attr, child in saving_lib._walk_trackable(trackable):
            if saving_lib._is_keras_trackable(child):
                state(child, join(path, attr), visited)
            elif isinstance(child, (list, dict, tuple, set)):
                container(child, join(path, attr), visited)

    def container(items: Any, path: str, visited: set[int]) -> None:
        used: dict[str, int] = {}
        for trackable in list(items.values()) if isinstance(items, dict) else items:
            if not saving_lib._is_keras_trackable(trackable) or id(trackable) in visited:
                continue
            name = generic_utils.to_snake_case(trackable.__class__.__name__)
            if name in used:
                used[name] += 1
                name = f"{name}_{used[name]}"
            else:
                used[name] = 0
            state(trackable, join(path, name), visited)

    state(model, "", set())
    return tuple(layout)
