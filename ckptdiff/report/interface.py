"""The frozen report types that library functions return and renderers turn into text."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ckptdiff.stats.moments import TensorStats

INSPECT_SCHEMA = "ckptdiff.inspect/1"


@dataclass(frozen=True)
class ArtifactInfo:
    """What a report says about the artifact it describes."""

    path: str
    """The path as the user gave it."""
    format: str
    """The detected format name."""
    resolved: str
    """The file or prefix actually read."""
    notes: tuple[str, ...] = ()
    """Decisions the reader made (latest checkpoint chosen, TensorFlow fallback used)."""
    metadata: dict[str, Any] = field(default_factory=dict)
    """Format facts (versions, tags, signatures, ops)."""


@dataclass(frozen=True)
class TensorRow:
    """One tensor in an inspect report."""

    key: str
    shape: tuple[int, ...]
    dtype: str
    group: str
    nbytes: int | None
    paths: tuple[str, ...]
    """Other names the format records for the tensor (object paths, layer/weight names)."""
    stats: TensorStats | None
    """None with --no-stats or for non-numeric dtypes."""


@dataclass(frozen=True)
class GroupSummary:
    """Counts for one group (model, optimizer, bookkeeping) over the rows shown."""

    group: str
    tensors: int
    elements: int
    nbytes: int


@dataclass(frozen=True)
class InspectReport:
    """Everything `ckptdiff inspect` shows."""

    artifact: ArtifactInfo
    tensors: tuple[TensorRow, ...]
    summary: tuple[GroupSummary, ...]


CHECK_SCHEMA = "ckptdiff.check/1"


@dataclass(frozen=True)
class ModelInfo:
    """The live model a check ran against."""

    spec: str
    kind: str
    name: str
    variables: int
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class VariableFinding:
    """What the emulated loader does with one live variable."""

    path: str
    status: str
    key: str | None
    shape: tuple[int, ...]
    dtype: str
    entry_shape: tuple[int, ...] | None
    entry_dtype: str | None
    trainable: bool
    layer: str | None
    detail: str
    second_opinion: tuple[str, str, str | None] | None = None
    """(loader, status, key) of the secondary loader where it disagrees (h5-name for legacy H5)."""


@dataclass(frozen=True)
class UnexpectedFinding:
    """An artifact entry no live variable consumes."""

    key: str
    group: str
    shape: tuple[int, ...]
    dtype: str


@dataclass(frozen=True)
class PartialFinding:
    """An object restored only in part: a layer, or optimizer state covering some variables."""

    object: str
    kind: str
    """`layer` or `optimizer`."""
    restored: tuple[str, ...]
    not_restored: tuple[str, ...]
    detail: str


@dataclass(frozen=True)
class HintInfo:
    """A computed explanation (see ckptdiff.match.hints.Hint)."""

    kind: str
    message: str
    pairs: tuple[tuple[str, str], ...] = ()
    assignment_map: dict[str, str] | None = None


@dataclass(frozen=True)
class CheckReport:
    """Everything `ckptdiff check` shows."""

    artifact: ArtifactInfo
    model: ModelInfo
    loader: str
    loader_description: str
    anchor: str | None
    outcome: str
    variables: tuple[VariableFinding, ...]
    unexpected: tuple[UnexpectedFinding, ...]
    partial: tuple[PartialFinding, ...]
    hints: tuple[HintInfo, ...]
    summary: dict[str, int]
    fail_on: tuple[str, ...]
    ok: bool
    notes: tuple[str, ...] = ()
