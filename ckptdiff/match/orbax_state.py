"""Emulate Keras 3 `model.load_weights(<Orbax checkpoint dir>)`: the state tree assigned by exact variable path.

Keras 3.15 (keras/src/saving/saving_api.py `load_weights`, keras/src/models/model.py `set_state_tree`)
reads the `pytree` checkpointable of the latest step and, for each collection of `get_state_tree()`
(trainable, non-trainable, optimizer and metrics variables), assigns every stored leaf to every
variable of that collection whose `variable.path` equals the leaf's path below the collection key. A
variable no leaf names keeps its value and nothing is said; a leaf no variable has is ignored; a leaf
whose shape differs makes `variable.assign` raise, which ends the call with the leaves before it
already assigned. Optimizer leaves are assigned only when the model has an optimizer.
"""

from __future__ import annotations

from ckptdiff.artifact import Artifact
from ckptdiff.errors import CkptdiffError
from ckptdiff.live.model import LiveModel
from ckptdiff.match.interface import (
    LOADER_DESCRIPTIONS,
    LOADER_KERAS3_ORBAX,
    MATCHED,
    MISSING,
    SHAPE_MISMATCH,
    LoaderEmulator,
    LoaderResult,
    Pairing,
)

PYTREE_PREFIX = "pytree/"


def _stored_leaves(artifact: Artifact) -> dict[tuple[str, str], str]:
    """(collection, variable path) -> entry key, for every array leaf of the `pytree` checkpointable."""
    leaves: dict[tuple[str, str], str] = {}
    for entry in artifact.entries:
        if not entry.key.startswith(PYTREE_PREFIX) or not entry.paths:
            continue
        collection, _, path = entry.paths[-1].partition("/")
        leaves.setdefault((collection, path), entry.key)
    return leaves


def match_keras3_orbax(artifact: Artifact, live: LiveModel) -> LoaderResult:
    """Pair every live variable with the state-tree leaf of its collection and exact `variable.path`."""
    if live.keras3_state is None:
        raise CkptdiffError(
            f"--model {live.spec}: a {live.kind} model has no Keras 3 state tree; loading an Orbax checkpoint "
            "needs a Keras 3 model"
        )
    leaves = _stored_leaves(artifact)
    entries = artifact.by_key
    by_var: dict[int, Pairing] = {}
    consumed: set[str] = set()
    wanted: dict[int, str] = {}
    mismatched: list[str] = []
    for collection, path, index in live.keras3_state:
        wanted[index] = f"{collection}/{path}"
        key = leaves.get((collection, path))
        if key is None:
            by_var.setdefault(index, Pairing(index, MISSING, None, f"no leaf {collection}/{path}: keeps its value"))
            continue
        consumed.add(key)
        variable, entry = live.variables[index], entries[key]
        if tuple(entry.shape) != tuple(variable.shape):
            mismatched.append(path)
            by_var[index] = Pairing(
                index,
                SHAPE_MISMATCH,
                key,
                f"stored {list(entry.shape)}, variable {list(variable.shape)}: assign raises",
            )
        else:
            note = f" (stored {entry.dtype}, assign casts)" if entry.dtype != variable.dtype else ""
            by_var[index] = Pairing(index, MATCHED, key, f"leaf {collection}/{path}{note}")
    in_state = {index for _, _, index in live.keras3_state}
    pairings = tuple(
        by_var.get(v.index, Pairing(v.index, MISSING, None, "not in get_state_tree(): never assigned"))
        for v in live.variables
    )
    if mismatched:
        outcome = (
            f"load_weights raises ValueError at a leaf whose shape differs (first here: {mismatched[0]}); leaves "
            "assigned before it keep their new values"
        )
    elif any(p.status == MISSING for p in pairings if p.variable in in_state):
        outcome = "load_weights returns without complaint; variables no leaf names keep their values"
    else:
        outcome = "load_weights assigns every variable"
    return LoaderResult(
        loader=LOADER_KERAS3_ORBAX,
        pairings=pairings,
        consumed=frozenset(consumed),
        outcome=outcome,
        wanted=wanted,
        out_of_scope=frozenset(v.index for v in live.variables if v.index not in in_state),
    )


class Keras3OrbaxLoader(LoaderEmulator):
    """Keras 3 `load_weights` of an Orbax checkpoint directory."""

    name = LOADER_KERAS3_ORBAX
    description = LOADER_DESCRIPTIONS[LOADER_KERAS3_ORBAX]

    def match(self, artifact: Artifact, live: LiveModel) -> LoaderResult:
        return match_keras3_orbax(artifact, live)
