"""The interface every loader emulator implements, the data it returns, and the restore statuses."""

from __future__ import annotations

import abc
import enum
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ckptdiff.artifact import Artifact, TensorEntry
    from ckptdiff.live.model import LiveModel
    from ckptdiff.match.hints import Hint
    from ckptdiff.report.interface import PartialFinding


class Status(enum.StrEnum):
    """What a restore does with a variable (the first four) or finds beside them (the last two)."""

    MATCHED = "matched"
    MISSING = "missing"
    SHAPE_MISMATCH = "shape_mismatch"
    DTYPE_MISMATCH = "dtype_mismatch"
    UNEXPECTED = "unexpected"
    PARTIAL = "partial"


MATCHED = Status.MATCHED
MISSING = Status.MISSING
SHAPE_MISMATCH = Status.SHAPE_MISMATCH
DTYPE_MISMATCH = Status.DTYPE_MISMATCH
UNEXPECTED = Status.UNEXPECTED
PARTIAL = Status.PARTIAL
VARIABLE_STATUSES = (MATCHED, MISSING, SHAPE_MISMATCH, DTYPE_MISMATCH)
RESTORED = (MATCHED, DTYPE_MISMATCH)
"""Statuses under which the variable receives the entry's value."""

LOADER_OBJECT_GRAPH = "object-graph"
LOADER_BY_NAME = "by-name"
LOADER_H5_ORDER = "h5-order"
LOADER_H5_NAME = "h5-name"
LOADER_KERAS3 = "keras3"
LOADER_KERAS3_ORBAX = "keras3-orbax"
LOADER_TF_KERAS = "tf_keras"
LOADER_AUTO = "auto"
"""`--loader auto`: the loader users call for the artifact kind."""
LOADERS = (
    LOADER_OBJECT_GRAPH,
    LOADER_BY_NAME,
    LOADER_H5_ORDER,
    LOADER_H5_NAME,
    LOADER_KERAS3,
    LOADER_KERAS3_ORBAX,
    LOADER_TF_KERAS,
)

LOADER_DESCRIPTIONS = {
    LOADER_OBJECT_GRAPH: "tf.train.Checkpoint.restore / tf_keras load_weights(TF format): object graph by local names",
    LOADER_BY_NAME: "tf.compat.v1.train.Saver.restore: variable names without ':0'",
    LOADER_H5_ORDER: "Keras load_weights(.h5): layers with weights in topological order, names ignored",
    LOADER_H5_NAME: "Keras load_weights(.h5, by_name=True): layers by name",
    LOADER_KERAS3: "Keras 3 load_weights(.weights.h5 / .keras): containers by class-derived key",
    LOADER_KERAS3_ORBAX: "Keras 3 load_weights(Orbax checkpoint dir): state-tree leaves by exact variable.path",
    LOADER_TF_KERAS: "tf_keras load_model(.keras) / load_weights(.weights.h5): containers by walk path, fail-fast",
}


@dataclass(frozen=True)
class Pairing:
    """What one loader does with one live variable."""

    variable: int
    """Index into LiveModel.variables."""
    status: Status
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
    skipped: frozenset[int] = field(default_factory=frozenset)
    """Variables the real call skips on purpose and says so (Keras 3 leaves an optimizer whose variable
    count differs from the file's unloaded, with a warning): left out of the findings, explained in notes."""
    wanted: dict[int, str] = field(default_factory=dict)
    """For each variable, the artifact name the loader looks for (a key, an object path, a layer/weight
    name); hints compare these with the unexpected entries' names."""
    found_hints: tuple[Hint, ...] = ()
    """Explanations the emulator established while pairing (a container the file numbered differently
    from the loader), with the pairs they mark as loaded from another layer (`Hint.silent`)."""


class LoaderEmulator(abc.ABC):
    """One real loader: how it pairs, what the whole call does, and its hints in its own vocabulary."""

    name: str
    description: str
    call: str = ""
    """How users spell the call, for hints (`load_weights(by_name=True)`)."""

    @abc.abstractmethod
    def match(self, artifact: Artifact, live: LiveModel) -> LoaderResult:
        """Emulate the loader restoring artifact into live."""

    def second_opinion(self) -> LoaderEmulator | None:
        """Another loader users commonly try on the same file, whose disagreements are worth naming."""
        return None

    def partial_findings(
        self, artifact: Artifact, live: LiveModel, result: LoaderResult, ignored: Callable[..., bool]
    ) -> list[PartialFinding]:
        """Partial restores the loader's own machinery creates (optimizer slots for some variables only)."""
        return []

    def reword_hints(self, hints: list[Hint]) -> list[Hint]:
        """The generic rewrite hints said in this loader's vocabulary (by default as they are)."""
        return hints

    def shift_hint(self, live: LiveModel, result: LoaderResult, entries: list[TensorEntry]) -> Hint | None:
        """A shifted positional key that explains a run of wrong-layer loads, when the loader has one: its
        `silent` pairs are findings, its `explains` keys get no changed-head hint."""
        return None
