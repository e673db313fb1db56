"""Hints that explain missing and mismatched variables: computed from the names and shapes, never guessed.

Every hint names the pairs it would resolve. Rewrites are found by splitting each wanted name and
each unexpected entry name into path components, taking the common leading and trailing components
as context and the differing middle as the rewrite; candidate pairs come from an index on
(last component, shape), so the search is linear in the number of entries, not quadratic.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass

from ckptdiff.artifact import TensorEntry
from ckptdiff.live.model import LiveVariable
from ckptdiff.report.formatting import shape_text

_NUMBERED = re.compile(r"^(?P<base>.*?)(?:_(?P<n>\d+))?$")
_LAYER_INDEX = re.compile(r"^(layer_with_weights|layer)-(\d+)$")
_MAX_CANDIDATES = 64


@dataclass(frozen=True)
class Hint:
    """One explanation, with the pairs it resolves."""

    kind: str
    """`rewrite`, `rename`, `numbering-drift`, `shifted-layer-index`, `same-shape-candidate`, `transposed`,
    `last-dimension`, `h5-name-disagrees`."""
    message: str
    pairs: tuple[tuple[str, str], ...] = ()
    """(variable path, artifact key) pairs the hint resolves or explains."""
    rewrite: tuple[str, str] | None = None
    """(artifact prefix, model prefix) for rewrites."""
    assignment_map: dict[str, str] | None = None
    """Scope form (checkpoint scope -> model scope), for tf.compat.v1.train.init_from_checkpoint with
    variables created by get_variable."""
    rename: dict[str, str] | None = None
    """Per-variable form (checkpoint key -> model variable name), for tf.Variable objects: build
    `{key: variable}` for init_from_checkpoint or `Saver(var_list=...)` (scope maps only see get_variable)."""
    silent: tuple[tuple[str, str], ...] = ()
    """(variable path, artifact key) pairs a shift explains as loaded silently from another layer: they are
    findings (`misplaced`), not clean matches."""
    explains: frozenset[str] = frozenset()
    """Artifact keys whose mismatches the hint accounts for (no separate changed-head hint for them)."""


def entry_name(entry: TensorEntry) -> str:
    """The name an entry is known by in the model's namespace: recorded weight name for H5, else the key."""
    if (entry.key.startswith(("model_weights/", "/")) or entry.key.endswith(":0")) and entry.paths:
        return entry.paths[0].removesuffix(":0")
    return entry.key.removesuffix(":0")


def _split_rewrite(wanted: str, found: str) -> tuple[str, str, str, str] | None:
    """(found middle, wanted middle, shared prefix, shared suffix), or None when no component is shared."""
    w, f = wanted.split("/"), found.split("/")
    suffix = 0
    while suffix < min(len(w), len(f)) and w[-1 - suffix] == f[-1 - suffix]:
        suffix += 1
    if suffix == 0:
        return None
    prefix = 0
    while prefix < min(len(w), len(f)) - suffix and w[prefix] == f[prefix]:
        prefix += 1
    w_mid = "/".join(w[prefix : len(w) - suffix])
    f_mid = "/".join(f[prefix : len(f) - suffix])
    if w_mid == f_mid:
        return None
    return f_mid, w_mid, "/".join(w[:prefix]), "/".join(w[len(w) - suffix :])


def _rewrite_kind(found: str, wanted: str, prefix: str) -> str:
    a, b = _LAYER_INDEX.match(found), _LAYER_INDEX.match(wanted)
    if a and b and a.group(1) == b.group(1):
        return "shifted-layer-index"
    ma, mb = _NUMBERED.match(found), _NUMBERED.match(wanted)
    if ma and mb and ma.group("base") == mb.group("base") and "/" not in found and "/" not in wanted:
        return "numbering-drift"
    if prefix and "/" not in found and "/" not in wanted and found and wanted:
        return "rename"
    return "rewrite"


def find_rewrites(missing: list[tuple[LiveVariable, str]], unexpected: list[TensorEntry]) -> list[Hint]:
    """Prefix or middle rewrites that turn missing variables into matches with unexpected entries.

    Args:
        missing: (variable, the name the loader looked for) for each variable nothing restored.
        unexpected: the entries no variable consumed.

    Returns:
        Hints, most pairs resolved first; a pair is used by one hint only.
    """
    index: dict[tuple[str, tuple[int, ...]], list[TensorEntry]] = defaultdict(list)
    for entry in unexpected:
        name = entry_name(entry)
        index[(name.rsplit("/", 1)[-1], tuple(entry.shape))].append(entry)
        if name.endswith("/.ATTRIBUTES/VARIABLE_VALUE"):
            stem = name[: -len("/.ATTRIBUTES/VARIABLE_VALUE")]
            index[(stem.rsplit("/", 1)[-1], tuple(entry.shape))].append(entry)
    support: dict[tuple[str, str, str], list[tuple[LiveVariable, TensorEntry, str]]] = defaultdict(list)
    for var, wanted in missing:
        stem = wanted.removesuffix("/.ATTRIBUTES/VARIABLE_VALUE")
        candidates = index.get((stem.rsplit("/", 1)[-1], tuple(var.shape)), [])[:_MAX_CANDIDATES]
        for entry in candidates:
            split = _split_rewrite(wanted, entry_name(entry))
            if split is not None:
                found_mid, wanted_mid, prefix, _ = split
                support[(found_mid, wanted_mid, prefix)].append((var, entry, wanted))
    hints: list[Hint] = []
    used_vars: set[int] = set()
    used_keys: set[str] = set()
    for (found_mid, wanted_mid, prefix), pairs in sorted(support.items(), key=lambda kv: (-len(kv[1]), kv[0])):
        fresh_pairs = [(v, e) for v, e, _ in pairs if v.index not in used_vars and e.key not in used_keys]
        if not fresh_pairs:
            continue
        for v, e in fresh_pairs:
            used_vars.add(v.index)
            used_keys.add(e.key)
        kind = _rewrite_kind(found_mid, wanted_mid, prefix)
        label = {
            "rewrite": "scope rewrite",
            "rename": "renamed",
            "numbering-drift": "auto-numbering drift",
            "shifted-layer-index": "shifted layer index",
        }[kind]
        found_text = f"{found_mid}/" if found_mid else "(no prefix)"
        wanted_text = f"{wanted_mid}/" if wanted_mid else "(no prefix)"
        hints.append(
            Hint(
                kind=kind,
                message=(
                    f"{label}: artifact '{found_text}' -> model '{wanted_text}' resolves {len(fresh_pairs)} "
                    "missing variable(s)"
                ),
                pairs=tuple((v.path, e.key) for v, e in fresh_pairs),
                rewrite=(found_mid, wanted_mid),
                assignment_map={f"{found_mid}/" if found_mid else "/": f"{wanted_mid}/" if wanted_mid else "/"},
                rename={e.key: v.name for v, e in fresh_pairs},
            )
        )
    return hints


def find_same_shape_candidates(
    missing: list[LiveVariable], unexpected: list[TensorEntry], explained: set[int]
) -> list[Hint]:
    """A missing variable with exactly one unexpected model entry of its shape and dtype."""
    by_shape: dict[tuple[tuple[int, ...], str], list[TensorEntry]] = defaultdict(list)
    for entry in unexpected:
        if entry.group == "model":
            by_shape[(tuple(entry.shape), entry.dtype)].append(entry)
    wanting: dict[tuple[tuple[int, ...], str], list[LiveVariable]] = defaultdict(list)
    for var in missing:
        if var.index not in explained:
            wanting[(tuple(var.shape), var.dtype)].append(var)
    hints = []
    for sig, vars_ in wanting.items():
        entries = by_shape.get(sig, [])
        if len(vars_) == 1 and len(entries) == 1:
            hints.append(
                Hint(
                    kind="same-shape-candidate",
                    message=(
                        f"{vars_[0].path}: the only unexpected entry of shape {shape_text(sig[0])} is {entries[0].key}"
                    ),
                    pairs=((vars_[0].path, entries[0].key),),
                )
            )
    return hints


def explain_shape_mismatch(var: LiveVariable, entry: TensorEntry) -> Hint | None:
    """A transposed kernel, or a changed last dimension (number of classes / units)."""
    a, b = tuple(var.shape), tuple(entry.shape)
    if len(a) == len(b) >= 2 and a == tuple(reversed(b)):
        return Hint(
            "transposed",
            f"{var.path}: artifact holds the transpose ({shape_text(b)} vs {shape_text(a)})",
            ((var.path, entry.key),),
        )
    if len(a) == len(b) >= 1 and a[:-1] == b[:-1] and a[-1] != b[-1]:
        return Hint(
            "last-dimension",
            f"{var.path}: last dimension changed {b[-1]} -> {a[-1]} (a head with another number of classes or units); "
            "restore everything else and retrain this layer",
            ((var.path, entry.key),),
        )
    return None


_POSITIONAL = re.compile(r"^(?P<head>.*?)(?P<kind>layer_with_weights)-(?P<n>\d+)/(?P<rest>.+)$")


def find_layer_shift(
    variables: list[LiveVariable], wanted: dict[int, str], entries: list[TensorEntry], current: dict[int, str | None]
) -> Hint | None:
    """A layer inserted into (or removed from) a Keras model saved in TF format shifts `layer_with_weights-N`.

    Tries every insertion point and shift of up to two layers and keeps the one under which the most
    variables find a same-shape entry, when it beats the identity. The pairs that the identity
    would load silently from the wrong layer (same shape, other layer) are named.

    Args:
        variables: the live variables.
        wanted: variable index -> the checkpoint key the loader looks for.
        entries: every artifact entry.
        current: variable index -> the key the loader actually pairs it with (None when missing).
    """
    stored: dict[tuple[str, int, str], tuple[int, ...]] = {}
    for e in entries:
        m = _POSITIONAL.match(e.key)
        if m:
            stored[(m.group("head"), int(m.group("n")), m.group("rest"))] = tuple(e.shape)
    positional = []
    for var in variables:
        m = _POSITIONAL.match(wanted.get(var.index, ""))
        if m:
            positional.append((var, m.group("head"), int(m.group("n")), m.group("rest")))
    if not positional or not stored:
        return None

    def fits(var: LiveVariable, head: str, n: int, rest: str) -> bool:
        return stored.get((head, n, rest)) == tuple(var.shape)

    identity = sum(fits(v, h, n, r) for v, h, n, r in positional)
    top = max(n for _, _, n, _ in positional)
    best = (identity, 0, 0)
    for shift in (1, 2, -1, -2):
        for point in range(top + 1):
            score = sum(fits(v, h, n - shift if n >= point else n, r) for v, h, n, r in positional)
            if score > best[0]:
                best = (score, shift, point)
    score, shift, point = best
    if shift == 0:
        return None
    silent = [
        (v.path, key) for v, h, n, r in positional if n >= point and (key := current.get(v.index)) and fits(v, h, n, r)
    ]
    what = f"{shift} layer(s) with weights inserted" if shift > 0 else f"{-shift} layer(s) with weights removed"
    message = (
        f"shifted layer index: the model has {what} at layer_with_weights-{point}; checkpoint layer_with_weights-K "
        f"belongs to the model's layer_with_weights-(K{shift:+d}) from there on ({score} variables fit, "
        f"{identity} as saved)"
    )
    if silent:
        message += "; loaded silently into the wrong layer (shapes agree): " + ", ".join(
            f"{p} <- {k}" for p, k in silent
        )
    explains = frozenset(e.key for e in entries if _POSITIONAL.match(e.key))
    return Hint(
        kind="shifted-layer-index", message=message, pairs=tuple(silent), silent=tuple(silent), explains=explains
    )


KERAS_CLASS_NAMES = frozenset(
    {
        "dense",
        "einsum_dense",
        "embedding",
        "conv1d",
        "conv2d",
        "conv3d",
        "conv1d_transpose",
        "conv2d_transpose",
        "conv3d_transpose",
        "depthwise_conv1d",
        "depthwise_conv2d",
        "separable_conv1d",
        "separable_conv2d",
        "batch_normalization",
        "layer_normalization",
        "group_normalization",
        "unit_normalization",
        "lstm",
        "gru",
        "simple_rnn",
        "bidirectional",
        "multi_head_attention",
        "prelu",
    }
)
"""Keras' automatic layer names (the snake_case class name, `_N` suffixed): two of these with other stems
name layers of different classes."""
_AUTO_SUFFIX = re.compile(r"_\d+$")


def crosses_classes(found: str, wanted: str) -> bool:
    """True when a rename would pair layers Keras named after different classes (`conv2d` and
    `batch_normalization`): found is the artifact's differing path component, wanted the model's."""
    stem_found = _AUTO_SUFFIX.sub("", found.rsplit("/", 1)[-1])
    stem_wanted = _AUTO_SUFFIX.sub("", wanted.rsplit("/", 1)[-1])
    return stem_found in KERAS_CLASS_NAMES and stem_wanted in KERAS_CLASS_NAMES and stem_found != stem_wanted
