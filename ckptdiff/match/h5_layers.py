"""Emulate Keras' legacy H5 weight loading: by topological layer order (the default) or by layer name.

Both loaders raise ValueError on the first count or shape mismatch. What is assigned by then
depends on the Keras generation: Keras 3 assigns layer by layer as it goes, tf_keras (Keras 2)
collects every value first and assigns them in one batch, so a count mismatch leaves nothing
assigned and a shape mismatch (caught by by_name while collecting, by the batch assign for the
topological loader) stops at that weight.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from ckptdiff.artifact import Artifact, LayerRecord, TensorEntry
from ckptdiff.errors import CkptdiffError
from ckptdiff.live.model import KIND_KERAS3, LiveLayer, LiveModel
from ckptdiff.match.compare import compare_entry
from ckptdiff.match.hints import Hint
from ckptdiff.match.interface import (
    LOADER_DESCRIPTIONS,
    LOADER_H5_NAME,
    LOADER_H5_ORDER,
    MATCHED,
    MISSING,
    LoaderEmulator,
    LoaderResult,
    Pairing,
)


@dataclass
class _Plan:
    """Pairs in the order the loader assigns them, and where (if anywhere) it raises."""

    pairs: list[Pairing]
    raise_at: int | None = None
    """Index into pairs of the first pair the raise leaves unassigned (None: no failure; 0: nothing assigned)."""
    error: str = ""
    assigns_as_it_goes: bool = True


def _require_layers(artifact: Artifact, live: LiveModel) -> tuple[tuple[LayerRecord, ...], tuple[LiveLayer, ...]]:
    if artifact.layers is None:
        raise CkptdiffError(f"{artifact.path}: {artifact.format} records no layers; the H5 loaders need a legacy .h5")
    if live.layers is None:
        raise CkptdiffError(
            f"--model {live.spec}: a {live.kind} has no Keras layers; the H5 loaders need a Keras model"
        )
    return artifact.layers, live.layers


def _pair_layer(
    live: LiveModel, layer: LiveLayer, record: LayerRecord, entries: dict[str, TensorEntry], how: str
) -> list[Pairing]:
    return [
        compare_entry(
            live.variables[v],
            entries[key],
            f"{how}, weight {i} '{record.weight_names[i] if i < len(record.weight_names) else key}'",
        )
        for i, (v, key) in enumerate(zip(layer.weights, record.weight_keys))
    ]


def _finish(
    live: LiveModel, plan: _Plan, loader: str, every_key: set[str], extra_missing: dict[int, str]
) -> LoaderResult:
    """Turn a plan into pairings for every live variable, applying what the raise leaves unassigned."""
    by_var: dict[int, Pairing] = {}
    for i, p in enumerate(plan.pairs):
        failed = plan.raise_at is not None and (i >= plan.raise_at or not plan.assigns_as_it_goes)
        if failed and p.status == MATCHED:
            p = Pairing(p.variable, MISSING, p.key, f"{p.detail}; not assigned: load_weights raised ({plan.error})")
        by_var[p.variable] = p
    pairings = []
    for var in live.variables:
        if var.index in by_var:
            pairings.append(by_var[var.index])
        else:
            pairings.append(
                Pairing(var.index, MISSING, None, extra_missing.get(var.index, "no weight in the file for this layer"))
            )
    outcome = (
        f"load_weights raises ValueError: {plan.error}"
        if plan.raise_at is not None
        else "load_weights assigns every paired weight"
    )
    wanted = {var.index: var.path for var in live.variables}
    in_layers = {v for layer in live.layers or () for v in layer.weights}
    never = frozenset(var.index for var in live.variables if var.index not in in_layers)
    return LoaderResult(
        loader=loader,
        pairings=tuple(pairings),
        consumed=frozenset(every_key),
        outcome=outcome,
        wanted=wanted,
        out_of_scope=never,
    )


def match_h5_order(artifact: Artifact, live: LiveModel) -> LoaderResult:
    """Keras `load_weights("x.h5")`: the k-th file layer with weights feeds the k-th model layer with weights."""
    records, layers = _require_layers(artifact, live)
    entries = artifact.by_key
    file_layers = [r for r in records if r.weight_keys]
    model_layers = [layer for layer in layers if layer.weights]
    plan = _Plan(pairs=[], assigns_as_it_goes=True)
    consumed = {k for r in file_layers for k in r.weight_keys}
    for k, (layer, record) in enumerate(zip(model_layers, file_layers)):
        how = f"layer #{k} with weights: model '{layer.name}' <- file '{record.name}'"
        pairs = _pair_layer(live, layer, record, entries, how)
        if plan.raise_at is None and len(layer.weights) != len(record.weight_keys):
            plan.raise_at = len(plan.pairs)
            plan.error = (
                f"weight count mismatch for layer #{k} ({layer.name} in the model, {record.name} in the file): "
                f"model {len(layer.weights)}, file {len(record.weight_keys)}"
            )
            if live.kind != KIND_KERAS3:
                plan.assigns_as_it_goes = False
        for p in pairs:
            if plan.raise_at is None and p.status != MATCHED and p.status != "dtype_mismatch":
                plan.raise_at = len(plan.pairs)
                plan.error = f"shape mismatch in layer #{k} ({layer.name}) for {live.variables[p.variable].path}"
            plan.pairs.append(p)
    extra: dict[int, str] = {}
    if len(file_layers) != len(model_layers):
        plan.raise_at = 0
        plan.assigns_as_it_goes = False
        plan.error = (
            f"layer count mismatch: the model has {len(model_layers)} layers with weights, "
            f"the file {len(file_layers)}; nothing is assigned"
        )
        for layer in model_layers[len(file_layers) :]:
            for v in layer.weights:
                extra[v] = "no file layer at this position"
    return _finish(live, plan, LOADER_H5_ORDER, consumed, extra)


def match_h5_name(artifact: Artifact, live: LiveModel) -> LoaderResult:
    """Keras `load_weights("x.h5", by_name=True)`: file layers feed model layers of the same name; others are
    skipped."""
    records, layers = _require_layers(artifact, live)
    entries = artifact.by_key
    index: dict[str, list[LiveLayer]] = {}
    for layer in layers:
        index.setdefault(layer.name, []).append(layer)
    plan = _Plan(pairs=[], assigns_as_it_goes=live.kind == KIND_KERAS3)
    consumed: set[str] = set()
    for k, record in enumerate(records):
        for layer in index.get(record.name, []):
            consumed.update(record.weight_keys)
            pairs = _pair_layer(live, layer, record, entries, f"file layer #{k} '{record.name}' by name")
            if plan.raise_at is None and len(layer.weights) != len(record.weight_keys):
                plan.raise_at = len(plan.pairs)
                plan.error = (
                    f"weight count mismatch for layer #{k} ({layer.name}): "
                    f"model {len(layer.weights)}, file {len(record.weight_keys)}"
                )
            for p in pairs:
                if plan.raise_at is None and p.status != MATCHED and p.status != "dtype_mismatch":
                    plan.raise_at = len(plan.pairs)
                    plan.error = f"shape mismatch in layer #{k} ({layer.name}) for {live.variables[p.variable].path}"
                plan.pairs.append(p)
    if plan.raise_at is not None and live.kind != KIND_KERAS3:
        plan.assigns_as_it_goes = False
    extra = {v: f"no layer named '{layer.name}' in the file" for layer in layers for v in layer.weights}
    return _finish(live, plan, LOADER_H5_NAME, consumed, extra)


def _layer_rename_hints(hints: list[Hint]) -> list[Hint]:
    """In an H5 file the differing component is a layer name: the remedy is naming the layer, not a
    checkpoint assignment map."""
    return [
        replace(
            h,
            kind="rename",
            message=f"layer renamed: file layer '{h.rewrite[0]}' is model layer '{h.rewrite[1]}' "
            f"({len(h.pairs)} weight(s)); give the model layer the file's name, or load by layer order",
            assignment_map=None,
            rename=None,
        )
        if h.rewrite and "/" not in h.rewrite[0] + h.rewrite[1]
        else replace(h, assignment_map=None, rename=None)  # TF1 maps never apply to an H5 load
        for h in hints
    ]


class H5NameLoader(LoaderEmulator):
    """Keras `load_weights(".h5", by_name=True)`."""

    name = LOADER_H5_NAME
    description = LOADER_DESCRIPTIONS[LOADER_H5_NAME]
    call = "load_weights(by_name=True)"

    def match(self, artifact: Artifact, live: LiveModel) -> LoaderResult:
        return match_h5_name(artifact, live)

    def reword_hints(self, hints: list[Hint]) -> list[Hint]:
        return _layer_rename_hints(hints)


class H5OrderLoader(LoaderEmulator):
    """Keras `load_weights(".h5")`: layers with weights in order; `by_name=True` is the second opinion."""

    name = LOADER_H5_ORDER
    description = LOADER_DESCRIPTIONS[LOADER_H5_ORDER]

    def match(self, artifact: Artifact, live: LiveModel) -> LoaderResult:
        return match_h5_order(artifact, live)

    def second_opinion(self) -> LoaderEmulator:
        return H5NameLoader()

    def reword_hints(self, hints: list[Hint]) -> list[Hint]:
        return _layer_rename_hints(hints)
