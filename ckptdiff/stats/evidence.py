"""Everything an artifact says about its tensors' starting points, gathered for the fresh-init verdicts:
each variable's role, the initializer the artifact's own config gives it, and its optimizer slots."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ckptdiff.artifact import Artifact, Group, TensorEntry
from ckptdiff.errors import CkptdiffError
from ckptdiff.stats.moments import TensorStats
from ckptdiff.stats.roles import Role, artifact_roles


def config_initializers(artifact: Artifact, entries: Sequence[TensorEntry], roles: Sequence[Role | None]) -> list[Any]:
    """The initializer the artifact's model config names for each entry, None where it names none."""
    if artifact.config is None or not artifact.layers:
        return [None] * len(entries)
    from ckptdiff.formats.keras_config import configured_initializer, layer_configs
    from ckptdiff.stats.initializers import INITIALIZER_ATTRIBUTES

    configs = layer_configs(artifact.config)
    layer_of = {key: record.layer_name or record.name for record in artifact.layers for key in record.weight_keys}
    out: list[Any] = []
    for entry, role in zip(entries, roles):
        layer = configs.get(layer_of.get(entry.key, ""))
        if layer is None or role is None:
            out.append(None)
            continue
        out.append(configured_initializer(layer, INITIALIZER_ATTRIBUTES.get(role, (f"{role}_initializer",))))
    return out


def assess_entries(
    artifact: Artifact,
    entries: Sequence[TensorEntry],
    stats: Sequence[TensorStats | None],
    *,
    initializers: Sequence[Any] | None = None,
    fresh_values: Sequence[np.ndarray | None] | None = None,
) -> list[Any]:
    """The fresh-init verdict of each entry with all the evidence the artifact (and the live model) offer.

    Args:
        artifact: the open artifact the entries belong to.
        entries: the tensors to judge.
        stats: their statistics (same order).
        initializers: the live model's configured initializer per entry (check); where None, the artifact's
            own config is used.
        fresh_values: the live model's own initial value per entry (check).
    """
    from ckptdiff.stats.parallel import assess_all

    all_roles = dict(zip((e.key for e in artifact.entries), artifact_roles(artifact, artifact.entries)))
    roles = [all_roles.get(e.key) for e in entries]
    from_config = config_initializers(artifact, entries, roles)
    chosen = [
        live if live is not None else own
        for live, own in zip(initializers if initializers is not None else [None] * len(entries), from_config)
    ]
    verdicts = assess_all(entries, stats, initializers=chosen, fresh_values=fresh_values, roles=roles)
    if not any(e.group == Group.MODEL for e in entries):
        return verdicts
    from ckptdiff.stats.slot_evidence import apply_slot_fact, slot_facts

    facts, _ = slot_facts(artifact, all_roles)
    if facts:
        verdicts = [
            apply_slot_fact(v, facts.get(e.key), e.size) if v is not None and e.group == Group.MODEL else v
            for e, v in zip(entries, verdicts)
        ]
    from ckptdiff.formats import open_artifact
    from ckptdiff.stats.history_evidence import apply_run_fact, run_facts

    try:
        run, _ = run_facts(artifact, entries, open_artifact)
    except CkptdiffError:
        run = {}  # an unreadable earlier checkpoint is not this artifact's problem
    if not run:
        return verdicts
    return [
        apply_run_fact(v, run.get(e.key), e.size) if v is not None and e.group == Group.MODEL else v
        for e, v in zip(entries, verdicts)
    ]
