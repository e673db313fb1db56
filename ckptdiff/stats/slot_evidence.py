"""Optimizer slots as proof: a variable whose slots moved received gradients; one whose slots never moved,
after the optimizer stepped, received none (a Python name rebound in the training loop, a branch cut from
the graph); a trainable variable without slots was never in the optimizer's variable list.

A slot is untouched while every value still equals its start (zeros for Adam moments, momentum and
RMSprop; a constant for Adagrad accumulators): for a slot of two or more values, constant; for one value, 0.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ckptdiff.artifact import Artifact, Group, TensorEntry
from ckptdiff.formats.optimizer_slots import SlotMap, slot_map
from ckptdiff.stats.fresh import BASIS_OPTIMIZER_SLOTS, InitVerdict
from ckptdiff.stats.moments import compute_stats
from ckptdiff.stats.roles import NON_TRAINABLE_ROLES, Role


class Gradient(enum.StrEnum):
    """What the optimizer state says about one variable."""

    RECEIVED = "received"
    NONE = "none"
    NOT_LISTED = "not_listed"
    ONE_OF = "one_of"
    """Its slots cannot be told from same-shaped variables' and some of those received none."""


@dataclass(frozen=True)
class SlotFact:
    gradient: Gradient
    text: str


def _touched(entry: TensorEntry) -> bool:
    stats = compute_stats(entry.iter_chunks(), entry.dtype)
    if stats is None or stats.count == 0 or stats.nonfinite:
        return True
    if stats.count == 1:
        return stats.min != 0.0
    return stats.min != stats.max


def _steps(artifact: Artifact, smap: SlotMap) -> int | None:
    if smap.iterations_key is None or smap.iterations_key not in artifact.by_key:
        return None
    value = np.asarray(artifact.by_key[smap.iterations_key].read()).reshape(-1)
    return int(value[0]) if value.size == 1 else None


def trainable_candidates(artifact: Artifact, roles: dict[str, Role | None]) -> list[str]:
    """Model variables an optimizer could update, in model order where the artifact knows it."""
    frozen = _frozen_keys(artifact)
    ordered: list[str] = []
    seen: set[str] = set()
    for record in artifact.layers or ():
        ordered.extend(k for k in record.weight_keys if k not in seen)
        seen.update(record.weight_keys)
    ordered.extend(e.key for e in artifact.entries if e.key not in seen)
    by_key = artifact.by_key
    return [
        k
        for k in ordered
        if k in by_key
        and by_key[k].group == Group.MODEL
        and roles.get(k) not in NON_TRAINABLE_ROLES
        and k not in frozen
        and (by_key[k].dtype.startswith("float") or by_key[k].dtype == "bfloat16")
    ]


def _frozen_keys(artifact: Artifact) -> set[str]:
    if artifact.config is None or not artifact.layers:
        return set()
    from ckptdiff.formats.keras_config import layer_configs

    configs = layer_configs(artifact.config)
    frozen: set[str] = set()
    for record in artifact.layers:
        layer = configs.get(record.layer_name or record.name)
        if layer is not None and layer.get("trainable") is False:
            frozen.update(record.weight_keys)
    return frozen


def _order_known(artifact: Artifact) -> bool:
    """Keras 3 files give layer order only through their config (a bare `.weights.h5` lists containers by name)."""
    keras3 = [r for r in artifact.layers or () if any(k.startswith("layers/") for k in r.weight_keys)]
    return all(r.class_name for r in keras3)


def slot_facts(artifact: Artifact, roles: dict[str, Role | None]) -> tuple[dict[str, SlotFact], str | None]:
    """What the optimizer state says about each model variable, and a note on how it was read (None: no slots)."""
    if not any(e.group == Group.OPTIMIZER for e in artifact.entries):
        return {}, None
    candidates = trainable_candidates(artifact, roles)
    smap = slot_map(artifact, candidates, ordered=_order_known(artifact))
    if smap is None or (not smap.links and not smap.groups):
        return {}, None
    by_key = artifact.by_key
    touched: dict[str, bool] = {}

    def any_touched(keys: Sequence[str]) -> bool:
        for key in keys:
            if key not in touched:
                touched[key] = _touched(by_key[key])
        return any(touched[k] for k in keys)

    received = {v: any_touched(s) for v, s in smap.links.items()}
    group_received = [[any_touched(chunk) for chunk in g.slots] for g in smap.groups]
    steps = _steps(artifact, smap)
    stepped = (steps is not None and steps > 0) or any(received.values()) or any(any(g) for g in group_received)
    if not stepped:
        return {}, f"optimizer slots ({smap.method}) have not moved: the optimizer never stepped"
    after = f"after {steps} steps" if steps else "although the optimizer stepped"
    facts: dict[str, SlotFact] = {}
    for variable, got in received.items():
        if got:
            facts[variable] = SlotFact(Gradient.RECEIVED, "its optimizer slots moved: it received gradients")
        else:
            facts[variable] = SlotFact(
                Gradient.NONE, f"its optimizer slots are untouched {after}: no gradient reached it"
            )
    for group, got_list in zip(smap.groups, group_received):
        owners = ", ".join(group.variables[:3]) + ("..." if len(group.variables) > 3 else "")
        for variable in group.variables:
            if all(got_list) and len(got_list) == len(group.variables):
                facts[variable] = SlotFact(
                    Gradient.RECEIVED, "every slot of its shape moved: it received gradients (slots tied by shape)"
                )
            elif not any(got_list) and len(got_list) == len(group.variables):
                facts[variable] = SlotFact(
                    Gradient.NONE, f"every slot of its shape is untouched {after}: no gradient reached it"
                )
            else:
                missing = len(group.variables) - sum(got_list)
                facts[variable] = SlotFact(
                    Gradient.ONE_OF, f"{missing} of the variables shaped like it ({owners}) received no gradient"
                )
    exact = smap.method != "shapes"
    if exact and smap.trainable_candidates:
        for variable in smap.trainable_candidates:
            if variable not in facts and variable in by_key and by_key[variable].size > 0:
                facts[variable] = SlotFact(
                    Gradient.NOT_LISTED, "it has no optimizer slots while others do: never in the optimizer's variables"
                )
    return facts, f"optimizer slots tied to variables by {smap.method}"


def apply_slot_fact(verdict: InitVerdict, fact: SlotFact | None, size: int) -> InitVerdict:
    """The verdict of a variable of `size` values with the optimizer's testimony."""
    if fact is None:
        return verdict
    updated = {Gradient.RECEIVED: True, Gradient.NONE: False}.get(fact.gradient)
    return verdict.with_testimony(updated, BASIS_OPTIMIZER_SLOTS, fact.text, size)
