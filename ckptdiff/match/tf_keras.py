"""Emulate tf_keras `load_model(.keras)` / `load_weights(.keras | .weights.h5)`: containers by walk path, fail-fast.

tf_keras' loader (`tf_keras/src/saving/saving_lib.py`, `_load_state`) walks the live model the way its
saver does (ckptdiff.live.tf_keras_layout) and hands each object `H5IOStore.get(path)`: the `vars` group
at that path, or `{}` when there is none (there is no fallback to Keras 2.12-2.14's
`_layer_checkpoint_dependencies/` names, unlike Keras 3). `Layer.load_own_variables` raises ValueError
when the counts differ and assigns in order otherwise, where `assign` raises on the first shape it
cannot take. Nothing catches the exception: the objects walked before it are loaded, the rest are not,
and `load_model` returns no model. `Optimizer.load_own_variables` warns and returns when the counts
differ. With `skip_mismatch=True` (load_weights only) each failing object is skipped with a warning.
"""

from __future__ import annotations

from ckptdiff.artifact import Artifact
from ckptdiff.errors import CkptdiffError
from ckptdiff.live.model import LiveModel
from ckptdiff.live.tf_keras_layout import ContainerKind
from ckptdiff.match.compare import compare_entry
from ckptdiff.match.hints import Hint
from ckptdiff.match.interface import (
    DTYPE_MISMATCH,
    LOADER_DESCRIPTIONS,
    LOADER_TF_KERAS,
    MATCHED,
    MISSING,
    LoaderEmulator,
    LoaderResult,
    Pairing,
)
from ckptdiff.match.keras3 import LEGACY_CONTAINER, stored_containers


class _Walk:
    """The loader's state as it walks: pairings so far and the first exception it raises."""

    def __init__(self, containers: dict[str, list[str]]) -> None:
        self.containers = containers
        self.by_var: dict[int, Pairing] = {}
        self.consumed: set[str] = set()
        self.raised: str | None = None
        self.skipped: set[int] = set()
        self.notes: list[str] = []

    def not_reached(self, path: str, variables: tuple[int, ...]) -> None:
        """The variables of a container the walk never reaches; the entries it would have read are marked read
        (they have an owner: they are no unexpected entries)."""
        record = self.containers.get(path, [])
        keys = record if len(record) == len(variables) else [None] * len(variables)
        self.consumed.update(k for k in keys if k is not None)
        for v, key in zip(variables, keys):
            self.by_var[v] = Pairing(v, MISSING, key, f"not loaded: load_model raised earlier ({self.raised})")


def _load_layer(walk: _Walk, artifact: Artifact, live: LiveModel, path: str, variables: tuple[int, ...]) -> None:
    shown = path or "<root vars>"
    record = walk.containers.get(path, [])
    walk.consumed.update(record)
    if len(record) != len(variables):
        owner = live.variables[variables[0]].layer if variables else None
        walk.raised = (
            f"ValueError at '{shown}': Layer '{owner or shown}' expected {len(variables)} variables, but received "
            f"{len(record)} variables during loading"
        )
        for v in variables:
            walk.by_var[v] = Pairing(
                v,
                MISSING,
                None,
                f"container '{shown}' holds {len(record)} variables, the layer expects {len(variables)}: "
                "load_own_variables raises before assigning any",
            )
        return
    for i, (v, key) in enumerate(zip(variables, record)):
        if walk.raised is not None:
            walk.by_var[v] = Pairing(v, MISSING, key, f"container '{shown}' vars/{i}; not assigned: {walk.raised}")
            continue
        pairing = compare_entry(live.variables[v], artifact.by_key[key], f"container '{shown}' vars/{i}")
        if pairing.status not in (MATCHED, DTYPE_MISMATCH):
            walk.raised = f"ValueError at '{shown}' vars/{i}: assign of an incompatible shape"
        walk.by_var[v] = pairing


def _load_optimizer(walk: _Walk, artifact: Artifact, live: LiveModel, path: str, variables: tuple[int, ...]) -> None:
    record = walk.containers.get(path, [])
    if len(record) != len(variables):
        walk.skipped.update(variables)
        walk.consumed.update(record)
        walk.notes.append(
            f"tf_keras skips the optimizer state: the model's optimizer has {len(variables)} variables, the file's "
            f"{len(record)} ('Skipping variable loading for optimizer'); load_model(compile=True) of a trained "
            "model builds no optimizer slots first, so this is the usual outcome"
        )
        return
    walk.consumed.update(record)
    for i, (v, key) in enumerate(zip(variables, record)):
        walk.by_var[v] = compare_entry(live.variables[v], artifact.by_key[key], f"optimizer '{path}' vars/{i}")


def _legacy_hint(artifact: Artifact, containers: dict[str, list[str]], raised: str | None) -> Hint | None:
    """A Keras 2.12-2.14 archive: layers stored under `_layer_checkpoint_dependencies/`, which tf_keras never
    reads."""
    legacy = sorted(c for c in containers if c.startswith(f"{LEGACY_CONTAINER}/"))
    if not legacy or raised is None:
        return None
    version = artifact.metadata.get("keras_version") or "2.12-2.14"
    return Hint(
        kind="keras2-legacy-containers",
        message=(
            f"written by Keras {version}, which stored layers under '{LEGACY_CONTAINER}/' ({len(legacy)} "
            f"container(s), e.g. '{legacy[0]}'); tf_keras 2.15 and later look under 'layers/' and raise at the "
            "first layer with weights. Load the file with the Keras that wrote it and save it again, or load it "
            "with Keras 3, which falls back to the old names (`ckptdiff check` with a Keras 3 factory shows how)"
        ),
        explains=frozenset(key for c in legacy for key in containers[c]),
    )


def match_tf_keras(artifact: Artifact, live: LiveModel) -> LoaderResult:
    """Pair every live tf_keras variable with the `vars/<i>` entry its container walk reads."""
    if live.tf_keras_store is None:
        raise CkptdiffError(
            f"--model {live.spec}: a {live.kind} model has no tf_keras saver layout; the tf_keras loader needs a "
            "tf_keras model"
        )
    containers = stored_containers(artifact)
    if not containers:
        raise CkptdiffError(f"{artifact.path}: {artifact.format} has no Keras containers (`<path>/vars/<i>`)")
    walk = _Walk(containers)
    wanted = {
        v: f"{path}/vars/{i}" if path else f"vars/{i}"
        for path, variables, _ in live.tf_keras_store
        for i, v in enumerate(variables)
    }
    custom: list[str] = []
    for path, variables, kind in live.tf_keras_store:
        if walk.raised is not None:
            walk.not_reached(path, variables)
        elif kind == ContainerKind.OPTIMIZER:
            _load_optimizer(walk, artifact, live, path, variables)
        elif kind == ContainerKind.CUSTOM:
            custom.append(path)
        elif kind == ContainerKind.UNTRACKED:
            walk.consumed.update(walk.containers.get(path, []))  # read by the real loader, not checked here
        else:
            _load_layer(walk, artifact, live, path, variables)
    if custom:
        walk.notes.append(
            f"{len(custom)} object(s) with their own load_own_variables (e.g. '{custom[0]}', a lookup table or "
            "Normalization) are not emulated: their variables are left out"
        )
    pairings = tuple(
        walk.by_var.get(var.index, Pairing(var.index, MISSING, None, "not saved or loaded by tf_keras' saver walk"))
        for var in live.variables
    )
    never = frozenset(var.index for var in live.variables if var.index not in walk.by_var) - walk.skipped
    if walk.raised is not None:
        outcome = (
            f"load_model / load_weights raises {walk.raised}; the objects walked before it are loaded, none after "
            "(load_weights(skip_mismatch=True) skips each failing object with a warning instead)"
        )
    elif walk.skipped:
        outcome = "load_model restores every layer, warns and skips the optimizer state"
    else:
        outcome = "load_model restores every container"
    return LoaderResult(
        loader=LOADER_TF_KERAS,
        pairings=pairings,
        consumed=frozenset(walk.consumed),
        outcome=outcome,
        wanted=wanted,
        out_of_scope=never,
        skipped=frozenset(walk.skipped),
        notes=tuple(walk.notes),
        found_hints=tuple(h for h in (_legacy_hint(artifact, containers, walk.raised),) if h is not None),
    )


class TfKerasLoader(LoaderEmulator):
    """tf_keras `load_model(.keras)` or `load_weights(.keras | .weights.h5)`."""

    name = LOADER_TF_KERAS
    description = LOADER_DESCRIPTIONS[LOADER_TF_KERAS]

    def match(self, artifact: Artifact, live: LiveModel) -> LoaderResult:
        return match_tf_keras(artifact, live)
