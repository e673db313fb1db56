"""The data every loader emulator returns, and the statuses it uses."""

from __future__ import annotations

from dataclasses import dataclass, field

MATCHED = "matched"
MISSING = "missing"
SHAPE_MISMATCH = "shape_mismatch"
DTYPE_MISMATCH = "dtype_mismatch"
UNEXPECTED = "unexpected"
PARTIAL = "partial"
VARIABLE_STATUSES = (MATCHED, MISSING, SHAPE_MISMATCH, DTYPE_MISMATCH)

LOADER_OBJECT_GRAPH = "object-graph"
LOADER_BY_NAME = "by-name"
LOADER_H5_ORDER = "h5-order"
LOADER_H5_NAME = "h5-name"
LOADER_KERAS3 = "keras3"
LOADERS = (LOADER_OBJECT_GRAPH, LOADER_BY_NAME, LOADER_H5_ORDER, LOADER_H5_NAME, LOADER_KERAS3)

LOADER_DESCRIPTIONS = {
    LOADER_OBJECT_GRAPH: "tf.train.Checkpoint.restore / tf_keras load_weights(TF format): object graph by local names",
    LOADER_BY_NAME: "tf.compat.v1.train.Saver.restore: variable names without ':0'",
    LOADER_H5_ORDER: "Keras load_weights(.h5): layers with weights in topological order, names ignored",
    LOADER_H5_NAME: "Keras load_weights(.h5, by_name=True): layers by name",
    LOADER_KERAS3: "Keras 3 load_weights(.weights.h5 / .keras): containers by class-derived key",
}


@dataclass(frozen=True)
class Pairing:
    """What one loader does with one live variable."""

    variable: int
    """Index into LiveModel.variables."""
    status: str
    """matched, missing, shape_mismatch or dtype_mismatch."""
    key: str | None = None
    """The artifact entry the loader pairs it with (None when nothing)."""
    detail: str = ""
    """How the loader reached that entry, or why it did not."""


@dataclass(frozen=True)
class LoaderResult:
    """A loader emulator's whole answer."""

    loader: str
    pairings: tuple[Pairing, ...]
    """One per live variable, in LiveModel.variables order."""
    consumed: frozenset[str] = field(default_factory=frozenset)
    """Artifact keys the loader reads (restored or rejected); every other entry is unexpected."""
    anchor: str | None = None
    """For object-graph matching: the checkpoint node the live root was matched to."""
    outcome: str = ""
    """What the real call does as a whole: 'restores', or the exception it raises."""
    notes: tuple[str, ...] = ()
    out_of_scope: frozenset[int] = field(default_factory=frozenset)
    """Variables this loader never saves or restores (optimizer state for `load_weights(.h5)`, Keras 3
    seed-generator states): left out of the findings, counted in a note."""
    wanted: dict[int, str] = field(default_factory=dict)
    """For each variable, the artifact name the loader looks for (a key, an object path, a layer/weight
    name); hints compare these with the unexpected entries' names."""
