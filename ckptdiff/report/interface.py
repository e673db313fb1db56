"""The frozen report types that library functions return and renderers turn into text."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ckptdiff.artifact import Artifact, Group
from ckptdiff.integrity import IntegrityReport
from ckptdiff.records import quick_init

if TYPE_CHECKING:
    from ckptdiff.stats.fresh import InitVerdict
    from ckptdiff.stats.moments import TensorStats


class JsonMethod:
    """`.to_json()`: the command's `--format json` document (the Python API)."""

    def to_json(self) -> str:
        """The command's `--format json` document."""
        from ckptdiff.api import to_json

        return to_json(self)


class ReportMethods(JsonMethod):
    """What every report offers the Python API: `.findings` (what makes it not ok) and `.to_json()`."""

    @property
    def findings(self) -> list[Any]:
        """ckptdiff.api.Finding rows: every reason the report is not ok."""
        from ckptdiff.api import findings_of

        return findings_of(self)


INSPECT_SCHEMA = "ckptdiff.inspect/1"
HISTORY_SCHEMA = "ckptdiff.history/1"


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


def describe_artifact(artifact: Artifact) -> ArtifactInfo:
    """The artifact facts every report (inspect, check, diff) starts with."""
    return ArtifactInfo(
        path=artifact.path,
        format=artifact.format,
        resolved=artifact.resolved or artifact.path,
        notes=artifact.notes,
        metadata=dict(artifact.metadata),
    )


@dataclass(frozen=True)
class Histogram:
    """A tensor's value histogram (from the verdict's deterministic sample) and the matched family's expectation."""

    edges: tuple[float, ...]
    counts: tuple[int, ...]
    expected: tuple[float, ...] | None = None
    """Counts the matched (or nearest) initializer family predicts per bin, for the overlay; None when none."""
    family: str | None = None
    sampled: int = 0
    """How many values the histogram counts (all of them for small tensors)."""


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
    model_path: str = ""
    """The recorded path that says where the tensor lives in the model (outside any optimizer)."""
    init: InitVerdict | None = None
    """Whether the values look freshly initialised (None with --no-stats)."""
    histogram: Histogram | None = None
    """Only when asked for (`--format html`)."""


quick_init(TensorRow)


@dataclass(frozen=True)
class GroupSummary:
    """Counts for one group (model, optimizer, bookkeeping) over the rows shown."""

    group: str
    tensors: int
    elements: int
    nbytes: int


@dataclass(frozen=True)
class InspectReport(ReportMethods):
    """Everything `ckptdiff inspect` shows."""

    artifact: ArtifactInfo
    tensors: tuple[TensorRow, ...]
    summary: tuple[GroupSummary, ...]
    integrity: tuple[IntegrityReport, ...] = ()
    """What `--verify` found: one report (inspect, check) or two (diff: A, then B); empty without it."""

    @property
    def ok(self) -> bool:
        """No fresh-looking model tensor, no NaN or Inf, no integrity damage (what `audit` counts as findings)."""
        return not self.findings


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

    variable: int
    """Index into the live model's variables (paths are for people and need not be unique)."""
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
    group: str = "model"
    """`optimizer` for optimizer state of the live model (a tf.train.Checkpoint with an optimizer)."""
    init: InitVerdict | None = None
    """Whether the value it would receive looks freshly initialised (None when nothing restores it)."""
    nonfinite: bool = False
    """The value it would receive holds NaN or Inf."""
    second_opinion: tuple[str, str, str | None] | None = None
    """(loader, status, key) of the secondary loader where it disagrees (h5-name for legacy H5)."""
    misplaced: bool = False
    """Matched by the loader, but a shifted layer index or class order means the value is another layer's."""
    histogram: Histogram | None = None
    """Only when asked for (`--format html`)."""


quick_init(VariableFinding)


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
    rename: dict[str, str] | None = None


@dataclass(frozen=True)
class CheckReport(ReportMethods):
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
    integrity: tuple[IntegrityReport, ...] = ()
    """What `--verify` found: one report (inspect, check) or two (diff: A, then B); empty without it."""


DIFF_SCHEMA = "ckptdiff.diff/1"


class DiffOutcome(enum.StrEnum):
    """What a diff concluded as a whole; only `identical` exits 0."""

    IDENTICAL = "identical"
    """Every aligned pair is the same within tolerance, and the pairs cover the artifacts."""
    DIFFERENT = "different"
    """At least one aligned pair differs, or a model entry of one side has no counterpart."""
    NOTHING_COMPARED = "nothing-compared"
    """No entry of A could be paired with an entry of B (or neither stores a tensor)."""
    MOSTLY_UNALIGNED = "mostly-unaligned"
    """Every aligned pair is the same, but most model entries of one side have no counterpart."""


class DiffStatus(enum.StrEnum):
    """What diff found for an aligned pair or an unpaired entry."""

    SAME = "same"
    CHANGED = "changed"
    SHAPE_CHANGED = "shape_changed"
    DTYPE_CHANGED = "dtype_changed"
    ONLY_IN_A = "only_in_a"
    ONLY_IN_B = "only_in_b"


@dataclass(frozen=True)
class TensorDiff:
    """One aligned pair (or unpaired entry) of a diff."""

    name: str
    """The name the pair shares (a key, an object path, `layer/i`)."""
    status: str
    """same, changed, shape_changed, dtype_changed, only_in_a, only_in_b."""
    aligned_by: str | None
    key_a: str | None
    key_b: str | None
    group: str
    shape_a: tuple[int, ...] | None
    shape_b: tuple[int, ...] | None
    dtype_a: str | None
    dtype_b: str | None
    max_abs_diff: float | None = None
    rel_l2: float | None = None
    """||a - b|| / ||a||; None when ||a|| is 0 or the pair was not compared."""
    cosine: float | None = None
    changed_fraction: float | None = None
    """Fraction of elements outside atol + rtol * |b|."""
    nonfinite_mismatch: int | None = None
    """Elements where NaN or Inf stands on one side only (a change; excluded from the other measures)."""
    init: InitVerdict | None = None
    """Fresh-init verdict of B's tensor (model tensors that were compared)."""


@dataclass(frozen=True)
class LayerChange:
    """Relative L2 change aggregated over one layer's paired tensors."""

    layer: str
    tensors: int
    rel_l2: float | None
    status: str
    """same when every tensor of the layer is the same, else changed."""


def selected_by_only(status: str, only: str) -> bool:
    """Whether a diff pair of this status is listed under `--only` (counts always cover every pair)."""
    if only == "all":
        return True
    if only == "added":
        return status == "only_in_b"
    if only == "removed":
        return status == "only_in_a"
    if only == "changed":
        return status in (DiffStatus.CHANGED, DiffStatus.SHAPE_CHANGED, DiffStatus.DTYPE_CHANGED)
    return status == only


@dataclass(frozen=True)
class DiffReport(ReportMethods):
    """Everything `ckptdiff diff` shows."""

    a: ArtifactInfo
    b: ArtifactInfo
    atol: float
    rtol: float
    tensors: tuple[TensorDiff, ...]
    layers: tuple[LayerChange, ...]
    summary: dict[str, int]
    alignment: dict[str, int]
    """How many pairs each scheme aligned."""
    notes: tuple[str, ...] = ()
    outcome: DiffOutcome = DiffOutcome.IDENTICAL
    alignments_tried: tuple[str, ...] = ()
    """The alignment schemes diff tried, in order."""
    integrity: tuple[IntegrityReport, ...] = ()
    """What `--verify` found: one report (inspect, check) or two (diff: A, then B); empty without it."""

    @property
    def ok(self) -> bool:
        """Identical, and no integrity damage when verified (the exit status 0 of `diff`)."""
        return self.identical and all(r.ok for r in self.integrity)

    @property
    def identical(self) -> bool:
        """True only when tensors were compared, cover the artifacts, and every pair is the same."""
        return self.outcome == DiffOutcome.IDENTICAL


# history -------------------------------------------------------------------------------------------


class ChangeStatus(enum.StrEnum):
    """How a variable moved over the run."""

    NEVER_CHANGED = "never_changed"
    STOPPED_CHANGING = "stopped_changing"
    CHANGING = "changing"
    NONFINITE = "nonfinite"
    """Not a status of its own in `summary`: the finding that a NaN or Inf appeared (see `first_nonfinite`)."""


CHANGE_STATUSES = (ChangeStatus.NEVER_CHANGED, ChangeStatus.STOPPED_CHANGING, ChangeStatus.CHANGING)
HISTORY_FAIL_ON = (ChangeStatus.NEVER_CHANGED, ChangeStatus.NONFINITE)
"""What makes `history` exit 1 unless allowed: a model variable that never changed, a NaN or Inf appearing."""


@dataclass(frozen=True)
class RunCheckpoint:
    path: str
    step: int | None


@dataclass(frozen=True)
class VariableHistory:
    name: str
    key: str
    group: Group
    shape: tuple[int, ...]
    status: ChangeStatus
    changed: tuple[bool | None, ...]
    """Per consecutive pair: whether any value differs (None: absent from either side)."""
    rel_change: tuple[float | None, ...]
    """Per pair: ||b - a|| / ||a|| (None when absent, or a is all zeros and b is not)."""
    last_changed: int | None
    """Index of the last pair that changed."""
    first_nonfinite: int | None
    """Index of the first checkpoint where a NaN or Inf appears."""


@dataclass(frozen=True)
class LayerHistory:
    """Counts of each status among one layer's variables."""

    layer: str
    never_changed: int
    stopped_changing: int
    changing: int


@dataclass(frozen=True)
class HistoryReport(ReportMethods):
    """Everything `ckptdiff history` shows."""

    checkpoints: tuple[RunCheckpoint, ...]
    variables: tuple[VariableHistory, ...]
    layers: tuple[LayerHistory, ...]
    summary: dict[str, int]
    fail_on: tuple[str, ...]
    ok: bool
    notes: tuple[str, ...] = ()
