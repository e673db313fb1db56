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
LEGACY_CONTAINER = "_layer_checkpoint_dependencies"
"""Where Keras 2.12-2.14 put the layers; Keras 3's H5IOStore.get falls back to it ("2.13 compatibility")."""


def _stored_path(path: str, containers: dict[str, list[str]], legacy: bool) -> str | None:
    """The container Keras 3's `H5IOStore.get(path)` reads: the path itself, else, in a file that has a
    `_layer_checkpoint_dependencies` group, the path with every `layers` substring replaced by it (Keras 3.15
    keras/src/saving/saving_lib.py, `H5IOStore.get`: `path.replace("layers", "_layer_checkpoint_dependencies")`)."""
    if path in containers:
        return path
    if legacy and path:
        alt = path.replace("layers", LEGACY_CONTAINER)
        if alt in containers:
            return alt
    return None


def _renumbering_hint(artifact: Artifact, live: LiveModel, loaded: list[tuple[str, str, list[int]]]) -> Hint | None:
    """Containers of a Keras 2.12-2.13 file that Keras 3 reads into another layer than the one that wrote them.

    `loaded` holds (live container path, stored container path, variables) for every container read through
    the legacy fallback; the artifact's `renumbered_containers` says which layer wrote each stored container.
    """
    renumbered = artifact.metadata.get("renumbered_containers") or {}
    wrong = [
        (path, stored, variables)
        for path, stored, variables in loaded
        if renumbered.get(stored, stored) != path.replace("layers", LEGACY_CONTAINER)
    ]
    if not wrong:
        return None
    silent = tuple(
        (live.variables[v].path, f"{stored}/vars/{i}")
        for _, stored, variables in wrong
        for i, v in enumerate(variables)
    )
    shown = "; ".join(
        f"'{stored}' (the file's {renumbered.get(stored, stored).rsplit('/', 1)[-1]}) goes into '{path}'"
        for path, stored, _ in wrong[:3]
    )
    return Hint(
        kind="renumbered-container",
        message=(
            f"written by Keras {artifact.metadata.get('keras_version') or '2.12/2.13'}, which numbered every weighted "
            f"layer twice; Keras 3 reads containers by their stored names, so {len(silent)} variable(s) silently "
            f"receive another layer's weights: {shown}{' ...' if len(wrong) > 3 else ''}. Load the file with the "
            "Keras that wrote it (it maps containers by position) and save it again with Keras 2.14 or later"
        ),
        pairs=silent,
        silent=silent,
        explains=frozenset(key for key in artifact.by_key if key.rsplit("/vars/", 1)[0] in renumbered),
    )


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
    legacy = any(c == LEGACY_CONTAINER or c.startswith(f"{LEGACY_CONTAINER}/") for c in containers)
    through_fallback: list[tuple[str, str, list[int]]] = []
    for path, variables in live.keras3_store:
        stored = _stored_path(path, containers, legacy)
        record = containers.get(stored) if stored is not None else None
        if stored is not None and stored != path:
            through_fallback.append((path, stored, list(variables)))
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
        found_hints=tuple(h for h in (_renumbering_hint(artifact, live, through_fallback),) if h is not None),
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
