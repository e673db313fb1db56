"""Emulate Keras 3 `load_weights(.weights.h5 / .keras)`: each object reads `<container path>/vars`.

The container path comes from Keras' own saver walk of the live model (class-derived keys such
as `layers/dense_1`, never `layer.name`). Layer.load_own_variables raises when the variable count
differs (a missing container counts as zero) and stops at the first shape it cannot assign; Keras
collects those failures, loads everything else, then raises one ValueError naming how many objects
could not be loaded.
"""

from __future__ import annotations

import re
from dataclasses import replace

from ckptdiff.artifact import Artifact, TensorEntry
from ckptdiff.errors import CkptdiffError
from ckptdiff.live.model import LiveModel
from ckptdiff.match.compare import compare_entry
from ckptdiff.match.hints import Hint
from ckptdiff.match.interface import (
    DTYPE_MISMATCH,
    LOADER_DESCRIPTIONS,
    LOADER_KERAS3,
    MATCHED,
    MISSING,
    LoaderEmulator,
    LoaderResult,
    Pairing,
)

_VAR_KEY = re.compile(r"^(?:(?P<container>.*)/)?vars/(?P<index>\d+)$")


def stored_containers(artifact: Artifact) -> dict[str, list[str]]:
    """Container path -> its `vars/<i>` keys in numeric order, for every container the file stores (optimizer
    included)."""
    found: dict[str, list[tuple[int, str]]] = {}
    for entry in artifact.entries:
        m = _VAR_KEY.match(entry.key)
        if m:
            found.setdefault(m.group("container") or "", []).append((int(m.group("index")), entry.key))
    return {path: [key for _, key in sorted(items)] for path, items in found.items()}


OPTIMIZER_CONTAINER = "optimizer"
"""Where Keras 3's saver puts a compiled model's optimizer."""


def match_keras3(artifact: Artifact, live: LiveModel) -> LoaderResult:
    """Pair every live variable with the `vars/<i>` entry of its container in a Keras 3 weights file."""
    if live.keras3_store is None:
        raise CkptdiffError(
            f"--model {live.spec}: a {live.kind} model has no Keras 3 saver layout; the keras3 loader needs a "
            "Keras 3 model"
        )
    containers = stored_containers(artifact)
    if not containers:
        raise CkptdiffError(f"{artifact.path}: {artifact.format} has no Keras 3 containers (`<path>/vars/<i>`)")
    entries = artifact.by_key
    by_var: dict[int, Pairing] = {}
    consumed: set[str] = set()
    failed: list[str] = []
    wanted = {
        v: f"{path}/vars/{i}" if path else f"vars/{i}"
        for path, variables in live.keras3_store
        for i, v in enumerate(variables)
    }
    skipped: set[int] = set()
    notes: list[str] = []
    for path, variables in live.keras3_store:
        record = containers.get(path)
        shown = path or "<root vars>"
        if path == OPTIMIZER_CONTAINER and record is not None and len(record) != len(variables):
            # BaseOptimizer.load_own_variables warns and returns when the counts differ: no raise.
            skipped.update(variables)
            notes.append(
                f"Keras skips the optimizer state: the model's optimizer has {len(variables)} variables, the file's "
                f"{len(record)} ('Skipping variable loading for optimizer'); build the optimizer first "
                "(optimizer.build(model.trainable_variables), or train one step) to restore it"
            )
            continue
        if record is None:
            failed.append(shown)
            for v in variables:
                by_var[v] = Pairing(
                    v, MISSING, None, f"no container '{shown}' in the file (Keras reads 0 variables there)"
                )
            continue
        consumed.update(record)
        if len(record) != len(variables):
            failed.append(shown)
            for v in variables:
                by_var[v] = Pairing(
                    v,
                    MISSING,
                    None,
                    f"container '{shown}' holds {len(record)} variables, the layer expects {len(variables)}; the "
                    "layer loads nothing",
                )
            continue
        stopped = False
        for i, (v, key) in enumerate(zip(variables, record)):
            pairing = compare_entry(live.variables[v], entries[key], f"container '{shown}' vars/{i}")
            if stopped and pairing.status == MATCHED:
                pairing = Pairing(
                    v, MISSING, key, f"{pairing.detail}; not assigned: the layer raised on an earlier variable"
                )
            if pairing.status not in (MATCHED, DTYPE_MISMATCH) and not stopped:
                stopped = True
                failed.append(shown)
            by_var[v] = pairing
    pairings = tuple(
        by_var.get(var.index, Pairing(var.index, MISSING, None, "not saved or loaded by Keras' saver walk"))
        for var in live.variables
    )
    never = frozenset(var.index for var in live.variables if var.index not in by_var) - skipped
    if failed:
        outcome = (
            f"load_weights loads the rest, then raises ValueError: a total of {len(failed)} objects could not be "
            "loaded "
            f"(first: {failed[0]}); with skip_mismatch=True it only warns"
        )
    elif skipped:
        outcome = "load_weights restores every layer, warns and skips the optimizer state"
    else:
        outcome = "load_weights restores every container"
    return LoaderResult(
        loader=LOADER_KERAS3,
        pairings=pairings,
        consumed=frozenset(consumed),
        outcome=outcome,
        wanted=wanted,
        out_of_scope=never,
        skipped=frozenset(skipped),
        notes=tuple(notes),
    )


class Keras3Loader(LoaderEmulator):
    """Keras 3 `load_weights` of a `.weights.h5` or `.keras`."""

    name = LOADER_KERAS3
    description = LOADER_DESCRIPTIONS[LOADER_KERAS3]

    def match(self, artifact: Artifact, live: LiveModel) -> LoaderResult:
        return match_keras3(artifact, live)

    def shift_hint(self, live: LiveModel, result: LoaderResult, entries: list[TensorEntry]) -> Hint | None:
        from ckptdiff.match.class_order import find_class_order_shift

        return find_class_order_shift(live, entries, result.pairings)

    def reword_hints(self, hints: list[Hint]) -> list[Hint]:
        """Keras 3 pairs containers by class-derived key: the remedy is the container order, never a TF1 map."""
        return [
            replace(
                h,
                message=f"container key: file container '{h.rewrite[0]}' holds what the model keeps in "
                f"'{h.rewrite[1]}' ({len(h.pairs)} weight(s)); Keras 3 names containers by class order, so a "
                "layer added or removed before it, or another nesting, moves the key",
                assignment_map=None,
                rename=None,
            )
            if h.rewrite
            else replace(h, assignment_map=None, rename=None)
            for h in hints
        ]
