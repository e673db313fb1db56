"""history_of_run: how every variable changed across the checkpoints of one training run.

The run is given as a CheckpointManager directory (its `checkpoint` state file's
`all_model_checkpoint_paths`, else `ckpt-N` by N), a directory of per-epoch Keras files
(`weights.{epoch:02d}.weights.h5`, `*.keras`, `*.h5`, by the number in the name), an Orbax
CheckpointManager root (step directories `0/`, `1/`, ... by number) or an ordered list (KerasHub
preset directories among them).
Checkpoints are compared pair by pair, two open at a time, each tensor streamed chunk by chunk:
memory stays at two chunks whatever the checkpoints weigh.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import PurePosixPath

import numpy as np

from ckptdiff.artifact import Artifact, Group, TensorEntry
from ckptdiff.errors import BadOption
from ckptdiff.formats.checkpoint_paths import INDEX_SUFFIX, STATE_FILE
from ckptdiff.report.interface import (
    CHANGE_STATUSES,
    HISTORY_FAIL_ON,
    ChangeStatus,
    HistoryReport,
    LayerHistory,
    RunCheckpoint,
    VariableHistory,
)
from ckptdiff.stats.parallel import default_workers
from ckptdiff.storage import Location, locate

_ALL_PATHS = re.compile(r'^all_model_checkpoint_paths:\s*"(?P<path>(?:[^"\\]|\\.)*)"\s*$', re.MULTILINE)
_NUMBER = re.compile(r"(\d+)")
_KERAS_SUFFIXES = (".weights.h5", ".keras", ".h5", ".hdf5", ".weights.json")


def layer_of(name: str) -> str:
    """The layer a variable belongs to: its path without the last component."""
    return name.rsplit("/", 1)[0] if "/" in name else name


def run_checkpoints(paths: Sequence[str]) -> list[RunCheckpoint]:
    """The ordered checkpoints of a run (see the module docstring)."""
    if len(paths) > 1:
        return [RunCheckpoint(p, _number(PurePosixPath(p).name)) for p in paths]
    if not paths:
        raise BadOption("history needs a run directory or at least two artifacts")
    root = locate(paths[0])
    if not root.is_dir():
        raise BadOption(f"{paths[0]}: give a run directory or at least two artifacts in order")
    state = root.child(STATE_FILE)
    if state.is_file():
        listed = _from_state(state, paths[0])
        if listed:
            return listed
    prefixes = sorted(
        (n, c.name[: -len(INDEX_SUFFIX)])
        for c in root.iterdir()
        if c.name.endswith(INDEX_SUFFIX) and (n := _number(c.name[: -len(INDEX_SUFFIX)])) is not None
    )
    if prefixes:
        return [RunCheckpoint(f"{paths[0].rstrip('/')}/{name}", n) for n, name in prefixes]
    files = sorted(
        (n, c.name) for c in root.iterdir() if c.name.endswith(_KERAS_SUFFIXES) and (n := _number(c.name)) is not None
    )
    if files:
        return [RunCheckpoint(f"{paths[0].rstrip('/')}/{name}", n) for n, name in files]
    steps = sorted((int(c.name), c.name) for c in root.iterdir() if c.name.isdigit() and c.is_dir())
    if len(steps) >= 2:  # an Orbax CheckpointManager root: one directory per step
        return [RunCheckpoint(f"{paths[0].rstrip('/')}/{name}", n) for n, name in steps]
    raise BadOption(
        f"{paths[0]}: no checkpoint state file, ckpt-N checkpoints, numbered Keras files or step directories; "
        "list the artifacts in order"
    )


def _number(name: str) -> int | None:
    for suffix in (*_KERAS_SUFFIXES, INDEX_SUFFIX):
        name = name.removesuffix(suffix)
    found = _NUMBER.findall(name)
    return int(found[-1]) if found else None


def _from_state(state: Location, display: str) -> list[RunCheckpoint]:
    text = state.read_bytes().decode("utf-8", errors="replace")
    out = []
    for m in _ALL_PATHS.finditer(text):
        named = m.group("path").encode().decode("unicode_escape")
        name = PurePosixPath(named).name  # the checkpoints sit beside their state file
        out.append(RunCheckpoint(f"{display.rstrip('/')}/{name}", _number(name)))
    return out


@dataclass
class _Pair:
    changed: bool
    rel: float | None
    nonfinite_b: bool


_NATIVE = (np.dtype(np.float32), np.dtype(np.float64))
"""Float types compared in their own precision (BLAS dot products); others are widened to float64 first."""


def _compare(a: TensorEntry, b: TensorEntry, magnitude: bool = True, nonfinite_a: bool | None = None) -> _Pair:
    """How b differs from a; nonfinite_a (whether a holds a NaN or Inf, None when a was never scanned) lets
    --changed-only skip a tensor whose checksum is a's."""
    if a.shape != b.shape or a.dtype != b.dtype:
        return _Pair(True, None, _has_nonfinite(b))
    if not magnitude and a.checksum is not None and b.checksum is not None:
        if a.checksum != b.checksum:
            return _Pair(True, None, _has_nonfinite(b))  # the V2 bundle's CRC32Cs differ: changed, without a diff
        if nonfinite_a is not None and a.nbytes is not None and a.nbytes == b.nbytes:
            return _Pair(False, 0.0, nonfinite_a)  # the same CRC32C over as many bytes: unchanged, not read
    sums = [0.0, 0.0]  # squared norms of the difference and of a
    changed = nonfinite = False
    for ca, cb in zip(a.iter_chunks(), b.iter_chunks()):
        xa, xb = np.asarray(ca).reshape(-1), np.asarray(cb).reshape(-1)
        same = _same_bytes(xa, xb)
        changed = changed or not same
        fa, fb = _floating(xa), _floating(xb)
        if fa is None or fb is None:
            continue
        finite_b = bool(np.isfinite(fb).all())
        nonfinite = nonfinite or not finite_b
        if magnitude:
            _accumulate(fa, fb, same, finite_b, sums)
    diff_sq, norm_sq = sums
    rel: float | None
    if not changed:
        rel = 0.0
    elif norm_sq > 0 and math.isfinite(diff_sq):
        rel = math.sqrt(diff_sq / norm_sq)
    else:
        rel = None
    return _Pair(changed, rel, nonfinite)


def _accumulate(xa: np.ndarray, xb: np.ndarray, same: bool, finite_b: bool, sums: list[float]) -> None:
    """Add one chunk's squared difference and squared norm of a: dot products in float32/float64 when every value
    is finite (the difference is then 0 where the values agree), element by element in float64 otherwise."""
    if xa.dtype in _NATIVE and xa.dtype == xb.dtype and finite_b and bool(np.isfinite(xa).all()):
        norm = float(np.dot(xa, xa))
        diff = 0.0 if same else float(np.dot(d := xb - xa, d))
        if math.isfinite(norm) and math.isfinite(diff):
            sums[0] += diff
            sums[1] += norm
            return
    fa, fb = xa.astype(np.float64), xb.astype(np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        agree = (fa == fb) | (np.isnan(fa) & np.isnan(fb))
        d = np.where(agree, 0.0, fb - fa)
        sums[0] += float(np.dot(d, d))
        sums[1] += float(np.dot(fa, fa))


_UNSIGNED = {1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64}


def _same_bytes(xa: np.ndarray, xb: np.ndarray) -> bool:
    """The two chunks hold the same bytes, as the bundle's CRC32C sees them: a NaN equals itself, -0.0 differs from
    0.0, and bfloat16 (a numpy `void` kind) compares like any other type."""
    if xa.dtype != xb.dtype or xa.shape != xb.shape:
        return False
    if xa.dtype.kind == "O" or xa.dtype.hasobject:
        return bool(np.array_equal(xa, xb))  # strings: compared as values
    unsigned = _UNSIGNED.get(xa.dtype.itemsize, np.uint8)
    return bool(np.array_equal(np.ascontiguousarray(xa).view(unsigned), np.ascontiguousarray(xb).view(unsigned)))


def _floating(x: np.ndarray) -> np.ndarray | None:
    """x as a float array (ml_dtypes' bfloat16 and float8 types widened to float32), None when it holds no floats."""
    if x.dtype.kind in "fc":
        return x
    if x.dtype.kind == "V" and (x.dtype.name == "bfloat16" or x.dtype.name.startswith("float8")):
        return x.astype(np.float32)
    return None


def _has_nonfinite(entry: TensorEntry) -> bool:
    for chunk in entry.iter_chunks():
        x = _floating(np.asarray(chunk))
        if x is not None and not bool(np.isfinite(x).all()):
            return True
    return False


def _status(changed: list[bool | None]) -> tuple[ChangeStatus, int | None]:
    moved = [i for i, c in enumerate(changed) if c]
    if not moved:
        return ChangeStatus.NEVER_CHANGED, None
    last = moved[-1]
    return (ChangeStatus.CHANGING if last == len(changed) - 1 else ChangeStatus.STOPPED_CHANGING), last


def history_of_run(
    checkpoints: Sequence[RunCheckpoint],
    open_one: Callable[[str], Artifact],
    *,
    groups: tuple[Group, ...] = (Group.MODEL,),
    magnitude: bool = True,
    progress: Callable[[int], None] | None = None,
) -> list[VariableHistory]:
    """Compare consecutive checkpoints; every variable of the chosen groups in any checkpoint gets a history.

    Args:
        checkpoints: the run, in order (at least two).
        open_one: opens one artifact (the registry's open_artifact).
        groups: which entry groups to follow.
        magnitude: compute ||b - a|| / ||a||; False decides V2-bundle tensors by their CRC32Cs alone: a
            differing checksum is a change (rel_change null; the tensor is read once, for the NaN/Inf scan),
            the same checksum over as many bytes is no change (not read; a CRC32C collision, one in 2**32,
            would pass for no change).
        progress: called with the number of values compared, as pairs go.
    """
    if len(checkpoints) < 2:
        raise BadOption("history needs at least two checkpoints of the run")
    pairs = len(checkpoints) - 1
    changed: dict[str, list[bool | None]] = {}
    rel: dict[str, list[float | None]] = {}
    first_nonfinite: dict[str, int] = {}
    info: dict[str, TensorEntry] = {}
    order: list[str] = []

    def name_of(e: TensorEntry) -> str:
        return e.model_path

    pool = ThreadPoolExecutor(max_workers=default_workers(), thread_name_prefix="ckptdiff-history")
    previous = open_one(checkpoints[0].path)
    try:
        first = [e for e in previous.entries if e.group in groups]
        latest_bad: dict[str, bool] = {}  # whether the variable holds a NaN/Inf in the latest checkpoint read
        for e, bad in zip(first, pool.map(_has_nonfinite, first)):  # numpy releases the GIL: tensors side by side
            name = name_of(e)
            info.setdefault(name, e)
            order.append(name)
            latest_bad[name] = bad
            if bad:
                first_nonfinite.setdefault(name, 0)
        for i in range(pairs):
            current = open_one(checkpoints[i + 1].path)
            try:
                before = {name_of(e): e for e in previous.entries if e.group in groups}
                after = {name_of(e): e for e in current.entries if e.group in groups}
                for name in after:
                    if name not in info:
                        info[name] = after[name]
                        order.append(name)
                for name in order:
                    changed.setdefault(name, [None] * pairs)
                    rel.setdefault(name, [None] * pairs)
                both = [name for name in order if name in before and name in after]
                results = pool.map(
                    _compare,
                    [before[n] for n in both],
                    [after[n] for n in both],
                    [magnitude] * len(both),
                    [latest_bad.get(n) for n in both],
                )
                for name, result in zip(both, results):
                    changed[name][i], rel[name][i] = result.changed, result.rel
                    latest_bad[name] = result.nonfinite_b
                    if result.nonfinite_b:
                        first_nonfinite.setdefault(name, i + 1)
                    if progress is not None:
                        progress(after[name].size)
            finally:
                previous.close()
            previous = current
    finally:
        pool.shutdown(cancel_futures=True)
        previous.close()
    out = []
    for name in order:
        status, last = _status(changed[name])
        entry = info[name]
        out.append(
            VariableHistory(
                name=name,
                key=entry.key,
                group=entry.group,
                shape=entry.shape,
                status=status,
                changed=tuple(changed[name]),
                rel_change=tuple(rel[name]),
                last_changed=last,
                first_nonfinite=first_nonfinite.get(name),
            )
        )
    return out


FAIL_ON_CHOICES = tuple(str(s) for s in (*CHANGE_STATUSES, ChangeStatus.NONFINITE))


def history_report(
    paths: Sequence[str],
    open_one: Callable[[str], Artifact],
    *,
    fail_on: Sequence[str] = (),
    allow: Sequence[str] = (),
    groups: tuple[Group, ...] = (Group.MODEL,),
    magnitude: bool = True,
    progress: Callable[[int], None] | None = None,
) -> HistoryReport:
    """The history of one run with its per-layer summary and gate.

    Args:
        paths: a run directory, or the artifacts in order.
        open_one: opens one artifact.
        fail_on: statuses that also fail (added to HISTORY_FAIL_ON).
        allow: statuses that do not fail (removed from both).
        groups: entry groups to follow; the gate applies to model variables only.
        magnitude: see history_of_run.
        progress: called with the number of values compared.
    """
    checkpoints = run_checkpoints(paths)
    variables = history_of_run(checkpoints, open_one, groups=groups, magnitude=magnitude, progress=progress)
    failing = tuple(s for s in dict.fromkeys((*HISTORY_FAIL_ON, *fail_on)) if s not in set(allow))
    by_layer: dict[str, dict[str, int]] = {}
    for v in variables:
        if v.group == Group.MODEL:
            counts = by_layer.setdefault(layer_of(v.name), dict.fromkeys(map(str, CHANGE_STATUSES), 0))
            counts[v.status] += 1
    layers = tuple(LayerHistory(layer, **counts) for layer, counts in by_layer.items())
    summary = {str(s): sum(1 for v in variables if v.status == s) for s in CHANGE_STATUSES}
    summary[ChangeStatus.NONFINITE] = sum(1 for v in variables if v.first_nonfinite is not None)
    ok = not any(failures(v, failing) for v in variables)
    notes: tuple[str, ...] = ()
    if any(c.step is None for c in checkpoints):
        notes = ("some checkpoint names carry no step number; they are taken in the order given",)
    return HistoryReport(tuple(checkpoints), tuple(variables), layers, summary, failing, ok, notes)


def failures(v: VariableHistory, fail_on: Sequence[str]) -> list[str]:
    """The statuses in fail_on this variable shows (model variables only for the change statuses)."""
    found = []
    if v.group == Group.MODEL and v.status in fail_on:
        found.append(str(v.status))
    if v.first_nonfinite is not None and ChangeStatus.NONFINITE in fail_on:
        found.append(str(ChangeStatus.NONFINITE))
    return found
