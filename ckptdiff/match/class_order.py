"""Keras 3 class-order shifts: a layer inserted or removed moves every later container key of its class.

Keras 3 stores a layer's variables under a container named after its class and its rank among the
siblings of that class (`layers/dense`, `layers/dense_1`, ...), never after the layer's own name. Insert a
Dense before the last two and Keras hands the new layer the weights of the one it displaced, silently
when the shapes agree, and fails further on. This module finds the alignment of file and model
containers that explains the most (shapes first, then the layer names Keras 3.15 records in each
container), and names the layers that receive another layer's weights.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass

from ckptdiff.artifact import TensorEntry
from ckptdiff.live.model import LiveModel
from ckptdiff.match.hints import Hint
from ckptdiff.match.interface import MATCHED, Pairing

_CONTAINER = re.compile(r"^(?:(?P<parent>.*)/)?(?P<stem>[^/]+?)(?:_(?P<n>\d+))?$")
_VAR_KEY = re.compile(r"^(?P<container>.+)/vars/(?P<index>\d+)$")
MAX_SHIFT = 2
"""Layers inserted into (or removed from) one class group that the search considers."""


@dataclass(frozen=True)
class Container:
    """One `<parent>/<stem>_<n>` container, of the file or of the model."""

    path: str
    shapes: tuple[tuple[int, ...], ...]
    name: str | None
    """The layer's own name, when known (the file's `vars` name attribute; the model layer)."""
    members: tuple[str, ...] = ()
    """File: the entry keys in vars order; model: unused."""
    variables: tuple[int, ...] = ()
    """Model: the live variable indices in store order; file: unused."""


Group = tuple[str, str]
"""(parent path, class stem)."""


def _group_of(path: str) -> tuple[Group, int] | None:
    m = _CONTAINER.match(path)
    if not m or m.group("parent") is None:
        return None
    return (m.group("parent"), m.group("stem")), int(m.group("n") or 0)


def file_groups(entries: list[TensorEntry]) -> dict[Group, list[Container]]:
    """The file's containers by (parent, class stem), in Keras' rank order."""
    found: dict[str, list[tuple[int, TensorEntry]]] = {}
    for e in entries:
        m = _VAR_KEY.match(e.key)
        if m and not e.key.startswith("optimizer/"):
            found.setdefault(m.group("container"), []).append((int(m.group("index")), e))
    groups: dict[Group, list[tuple[int, Container]]] = {}
    for path, items in found.items():
        items.sort(key=lambda t: t[0])
        where = _group_of(path)
        if where is None:
            continue
        first = items[0][1]
        name = first.paths[0].rsplit("/vars/", 1)[0].rsplit("/", 1)[-1] if first.paths else None
        container = Container(path, tuple(tuple(e.shape) for _, e in items), name, tuple(e.key for _, e in items))
        groups.setdefault(where[0], []).append((where[1], container))
    return {g: [c for _, c in sorted(items, key=lambda t: t[0])] for g, items in groups.items()}


def model_groups(live: LiveModel) -> dict[Group, list[Container]]:
    """The live model's containers (as Keras 3's saver walks it) by (parent, class stem), in rank order."""
    groups: dict[Group, list[tuple[int, Container]]] = {}
    for path, variables in live.keras3_store or ():
        where = _group_of(path)
        if where is None or path.startswith("optimizer") or not variables:
            continue
        first = live.variables[variables[0]]
        name = first.layer or (first.path.rsplit("/", 1)[0].rsplit("/", 1)[-1] if "/" in first.path else None)
        shapes = tuple(tuple(live.variables[v].shape) for v in variables)
        groups.setdefault(where[0], []).append((where[1], Container(path, shapes, name, variables=tuple(variables))))
    return {g: [c for _, c in sorted(items, key=lambda t: t[0])] for g, items in groups.items()}


Alignment = tuple[tuple[int, int | None], ...]
"""For each model container index j, the file container index it should receive (None: no counterpart)."""


def _alignments(n_file: int, n_model: int) -> list[Alignment]:
    """Every order-keeping alignment with |n_model - n_file| containers inserted (or removed)."""
    out: list[Alignment] = []
    if n_model > n_file:
        for inserted in itertools.combinations(range(n_model), n_model - n_file):
            rest = iter(range(n_file))
            out.append(tuple((j, None if j in inserted else next(rest)) for j in range(n_model)))
    else:
        for removed in itertools.combinations(range(n_file), n_file - n_model):
            kept = [i for i in range(n_file) if i not in removed]
            out.append(tuple((j, kept[j]) for j in range(n_model)))
    return out


def _chosen(name: str | None, stem: str) -> str | None:
    """A layer name a person chose; Keras' automatic `dense_3` says only the order it was created in."""
    return None if name is None or re.fullmatch(rf"{re.escape(stem)}(_\d+)?", name) else name


def _score(alignment: Alignment, files: list[Container], models: list[Container], stem: str) -> tuple[int, int]:
    """(containers whose shapes agree, containers whose chosen layer names agree) under an alignment."""
    fits = names = 0
    for j, i in alignment:
        if i is None:
            continue
        fits += files[i].shapes == models[j].shapes
        chosen = _chosen(files[i].name, stem)
        names += chosen is not None and chosen == _chosen(models[j].name, stem)
    return fits, names


def find_class_order_shift(live: LiveModel, entries: list[TensorEntry], pairings: tuple[Pairing, ...]) -> Hint | None:
    """The Keras 3 analogue of a shifted `layer_with_weights-N`: one hint for every class group that shifted.

    Args:
        live: the live Keras 3 model.
        entries: every artifact entry.
        pairings: what the keras3 loader emulation paired (Keras' own behaviour: by rank).

    Returns:
        A `class-order-shift` hint whose pairs (and `silent`) are the variables Keras loads silently from
        another layer's container, and whose `explains` are the file keys the shift accounts for; None
        when no group changed its count in a way an alignment explains better than Keras' own.
    """
    by_var = {p.variable: p for p in pairings}
    files, models = file_groups(entries), model_groups(live)
    parts: list[str] = []
    silent: list[tuple[str, str]] = []
    explained: set[str] = set()
    for group in sorted(set(files) & set(models)):
        f, m = files[group], models[group]
        if len(f) == len(m):
            swapped = _permuted(f, m)
            if swapped:
                parts.append(
                    f"the {group[1]!r} layers are stored in another order than the model's: "
                    + ", ".join(f"model layer '{m[j].name}' receives file layer '{f[j].name}'" for j in swapped)
                )
                explained.update(key for j in swapped for key in f[j].members)
                silent += _matched_pairs(live, by_var, [m[j] for j in swapped])
            continue
        if abs(len(f) - len(m)) > MAX_SHIFT:
            continue
        identity = tuple((j, j if j < len(f) else None) for j in range(len(m)))
        scored = [(a, _score(a, f, m, group[1])) for a in _alignments(len(f), len(m))]
        best = max(s for _, s in scored)
        winners = [a for a, s in scored if s == best]
        if winners == [identity]:
            continue  # Keras' own pairing by rank is the best explanation
        text, wrong = _describe(group, f, m, winners, identity)
        parts.append(text)
        explained.update(key for c in f for key in c.members)
        silent += _matched_pairs(live, by_var, [m[j] for j in wrong])
    if not parts:
        return None
    message = "; ".join(parts)
    if silent:
        message += "; loaded silently into the wrong layer (shapes agree): " + ", ".join(
            f"{p} <- {k}" for p, k in silent
        )
    return Hint(
        kind="class-order-shift",
        message=message,
        pairs=tuple(silent),
        silent=tuple(silent),
        explains=frozenset(explained),
    )


def _permuted(f: list[Container], m: list[Container]) -> list[int]:
    """Positions where Keras pairs a model layer with a file layer of another name, when the file holds the model's
    layer names in another order (renamed layers, whose names the file lacks, are no permutation)."""
    names_f, names_m = [c.name for c in f], [c.name for c in m]
    if (
        None in names_f
        or None in names_m
        or names_f == names_m
        or sorted(map(str, names_f)) != sorted(map(str, names_m))
    ):
        return []
    return [j for j, (x, y) in enumerate(zip(names_f, names_m)) if x != y]


def _matched_pairs(live: LiveModel, by_var: dict[int, Pairing], containers: list[Container]) -> list[tuple[str, str]]:
    """(variable path, key) of the matched variables of these model containers."""
    out = []
    for c in containers:
        for v in c.variables:
            p = by_var.get(v)
            if p is not None and p.status == MATCHED and p.key is not None:
                out.append((live.variables[v].path, p.key))
    return out


def _label(c: Container) -> str:
    return f"'{c.name}'" if c.name else c.path


def _describe(
    group: Group, f: list[Container], m: list[Container], winners: list[Alignment], identity: Alignment
) -> tuple[str, set[int]]:
    """The sentence for one shifted group, and the model containers Keras hands another layer's weights."""
    parent, stem = group
    more = len(m) - len(f)
    what = f"{more} more" if more > 0 else f"{-more} fewer"
    head = (
        f"class-order shift: the model has {what} '{stem}' layer(s) than the file under '{parent}'; Keras 3 names "
        f"containers by class order, not by layer name"
    )
    # Wrong under every best explanation: what the file can be sure of.
    wrong = {j for j, i in identity if i is not None and all(dict(a)[j] != i for a in winners)}
    handed = [
        f"model layer {_label(m[j])} receives {f[i].path} (file layer {_label(f[i])})"
        for j, i in identity
        if j in wrong and i is not None
    ]
    if len(winners) == 1:
        alone = [_label(m[j]) for j, i in winners[0] if i is None]
        lost = [_label(f[i]) for i in range(len(f)) if i not in {i for _, i in winners[0] if i is not None}]
        tail = []
        if alone:
            tail.append(f"model layer(s) {', '.join(alone)} have no counterpart in the file")
        if lost:
            tail.append(f"file layer(s) {', '.join(lost)} have no counterpart in the model")
        return "; ".join([head, *handed, *tail]), wrong
    candidates = sorted({_label(m[j]) for a in winners for j, i in a if i is None})
    ambiguous = (
        f"shapes and layer names cannot tell which of {', '.join(candidates)} is the new layer: the file can't tell"
    )
    return "; ".join([head, *handed, ambiguous]), wrong
