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
