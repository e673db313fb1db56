"""LiveModel: the variables of a model in memory, as plain data the matchers can read without TensorFlow."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

KIND_KERAS3 = "keras3"
KIND_TF_KERAS = "tf_keras"
KIND_MODULE = "tf.Module"
KIND_CHECKPOINT = "tf.train.Checkpoint"


@dataclass(frozen=True)
class LiveVariable:
    """One variable of the live model."""

    index: int
    """Position in LiveModel.variables."""
    path: str
    """Where it lives in the model, for people: `dense_1/kernel`."""
    name: str
    """`var.name` without `:0`: the key a TF1 Saver saves and restores it under."""
    shape: tuple[int, ...]
    dtype: str
    trainable: bool
    layer: str | None = None
    """The owning layer's name, when the model has layers."""
    group: str = "model"
    """`optimizer` for variables reachable only through an optimizer (slots, moments, iterations)."""
    initializer: dict | None = None
    """The configured initializer, serialised (`{"class_name": "GlorotUniform", "config": {...}}`)."""
    fresh: np.ndarray | None = field(default=None, repr=False, compare=False)
    """The value it had when the model was built: what it keeps if nothing restores it."""


@dataclass(frozen=True)
class LiveNode:
    """One trackable object of the live model's TF2 object graph."""

    kind: str
    """The object's class name."""
    children: tuple[tuple[str, int], ...] = ()
    """(local name, node index) for each checkpoint dependency, as TrackableView lists them."""
    variable: int | None = None
    """Index into LiveModel.variables when this node is a variable."""
    optimizer: bool = False
    """True for an optimizer object (its own variables are optimizer state)."""


@dataclass(frozen=True)
class LiveLayer:
    """A layer in the order `model.layers` gives, with its weights in the legacy H5 order."""

    name: str
    class_name: str
    weights: tuple[int, ...]
    """Variable indices, trainable first then non-trainable (Keras' `_legacy_weights`)."""


@dataclass(frozen=True)
class LiveModel:
    """A live model reduced to what the loaders look at."""

    spec: str
    """The --model SPEC as given."""
    kind: str
    """`keras3`, `tf_keras`, `tf.Module` or `tf.train.Checkpoint`."""
    name: str
    variables: tuple[LiveVariable, ...]
    graph: tuple[LiveNode, ...] = ()
    """The TF2 object graph from the root (node 0), breadth first."""
    layers: tuple[LiveLayer, ...] | None = None
    """model.layers, for the legacy H5 loaders (Keras models only)."""
    keras3_store: tuple[tuple[str, tuple[int, ...]], ...] | None = None
    """For Keras 3 models: each container path the Keras 3 saver writes and the variables it
    stores there, in store index order (`("layers/dense", (0, 1))`)."""
    tf_keras_store: tuple[tuple[str, tuple[int, ...], str], ...] | None = None
    """For tf_keras models: each container path tf_keras' `.keras` saver and loader walk visits, the
    variables it stores there in store order, and its ContainerKind (ckptdiff.live.tf_keras_layout)."""
    keras3_state: tuple[tuple[str, str, int], ...] | None = None
    """For Keras 3 models: (state-tree collection, `variable.path`, variable index) for every variable
    `Model.set_state_tree` can assign (`("trainable_variables", "mlp/dense/kernel", 0)`)."""
    notes: tuple[str, ...] = ()
    printed: str = ""
    """What the factory wrote to standard output while it ran (`model.summary()`): kept out of the
    report so that JSON and JUnit on stdout stay parseable; the CLI shows it on stderr."""
