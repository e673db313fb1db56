"""Emulate tf.compat.v1.train.Saver.restore: each variable is read from the key equal to its name without ':0'."""

from __future__ import annotations

from ckptdiff.artifact import Artifact
from ckptdiff.live.model import LiveModel
from ckptdiff.match.compare import compare_entry
from ckptdiff.match.interface import (
    LOADER_BY_NAME,
    LOADER_DESCRIPTIONS,
    MATCHED,
    MISSING,
    LoaderEmulator,
    LoaderResult,
    Pairing,
)


def match_by_name(artifact: Artifact, live: LiveModel) -> LoaderResult:
    """Pair every live variable with the entry stored under its TF1 name.

    A TF1 Saver fails as a whole on the first key it cannot find (NotFoundError) or the first
    shape it cannot assign (InvalidArgumentError); entries it does not ask for are ignored.
    """
    entries = artifact.by_key
    pairings = []
    for var in live.variables:
        entry = entries.get(var.name)
        if entry is None:
            pairings.append(Pairing(var.index, MISSING, None, f"no key '{var.name}' in the checkpoint"))
        else:
            pairings.append(compare_entry(var, entry, f"key equals variable name '{var.name}'"))
    failures = [p for p in pairings if p.status != MATCHED]
    if not failures:
        outcome = "Saver.restore restores every variable"
    elif any(p.status == MISSING for p in failures):
        first = next(p for p in failures if p.status == MISSING)
        outcome = (
            f"Saver.restore raises NotFoundError (key {live.variables[first.variable].name} not found); "
            "init_from_checkpoint with an assignment map can restore the rest"
        )
    else:
        outcome = "Saver.restore raises InvalidArgumentError on the first shape/dtype mismatch"
    return LoaderResult(
        loader=LOADER_BY_NAME,
        pairings=tuple(pairings),
        consumed=frozenset(p.key for p in pairings if p.key is not None),
        outcome=outcome,
        wanted={var.index: var.name for var in live.variables},
    )


class ByNameLoader(LoaderEmulator):
    """tf.compat.v1.train.Saver.restore."""

    name = LOADER_BY_NAME
    description = LOADER_DESCRIPTIONS[LOADER_BY_NAME]

    def match(self, artifact: Artifact, live: LiveModel) -> LoaderResult:
        return match_by_name(artifact, live)
