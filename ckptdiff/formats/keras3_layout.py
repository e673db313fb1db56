"""Keras 3 `.weights.h5` files and `.keras` archives: read with h5py, zipfile and json, never loaded.

Keras 3's saver (keras/src/saving/saving_lib.py) walks the model and writes each object's own variables
to `<container path>/vars/<i>`, `i` = 0, 1, 2, ... in the order its `save_own_variables` stores them
(`_trainable_variables + _non_trainable_variables` for most layers). Container paths are built so:

* the model itself is the root: its own variables go to the top-level `vars` group;
* an attribute holding a Keras object is entered under the attribute name (`optimizer`, `cell` of an
  LSTM, `query_dense` of a MultiHeadAttention);
* a list attribute is entered under its name (`layers`), and each element under the snake_case of
  its class name, `_1`, `_2`, ... suffixed for repeats within that list: `layers/dense`,
  `layers/dense_1`, `layers/batch_normalization` (never `layer.name`); a nested list is `container`;
* Sequential and Functional models visit `layers` first (in `model.layers` order: Functional includes
  its InputLayer, Sequential does not), then the other attributes sorted by name, private (`_x`) ones
  last; an object reached twice is written once;
* recent Keras (3.15 here) writes a `vars` group, with a `name` attribute holding `layer.name`, for
  every object it visits, even one without variables; Keras 3.1 created it only for objects with
  variables, and without the attribute.

Keras loads by container path, so the path is a container's identity. h5py lists groups alphabetically
(`dense_10` before `dense_2`), which is not Keras' order; the file does not record the order of
elements of a list. `layers` therefore lists containers in Keras' visit order emulated from the file:
own `vars` first, then `layers`, then other attributes sorted as Keras sorts them; elements of a list
container (one without its own `vars`) in config.json order when the archive's config gives it, else
by class key then numeric suffix (Keras' order within one class; the interleaving of classes is lost).

Conventions of the returned Artifact:

* one TensorEntry per dataset; `key` is the full HDF5 path inside the weights file (`layers/dense/vars/0`);
  group `optimizer` under `optimizer/`, `bookkeeping` under a metrics root (tf_keras writes `metrics/`),
  `model` otherwise; entries come container by container in the order above, variables numerically;
* `paths` gives a model variable the layer names its containers record: config.json names (archive)
  or `vars` `name` attributes, the chain of named containers joined by `/` and ending in `vars/<i>`
  (`dense_1/vars/0` for `layers/dense_2/vars/0`, `inner/dense_2/vars/1` inside nested model `inner`,
  `lstm/lstm_cell/vars/0` for `layers/lstm/cell/vars/0`); empty when the file records no names;
* `layers` has one LayerRecord per container with a `vars` group outside `optimizer/` and the metrics
  roots (the root's own `vars` only when it holds variables, under the name ``), `name` = container
  path, `weight_keys` in numeric order (`10` after `9`), `layer_name` and `class_name` when known.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import h5py

from ckptdiff.artifact import Group, LayerRecord, TensorEntry
from ckptdiff.formats.hdf5 import (
    all_datasets,
    decode_text,
    local_child,
    make_h5_entry,
    summarize,
)

VARS_GROUP = "vars"
LAYERS_GROUP = "layers"
LEGACY_LAYERS_GROUP = "_layer_checkpoint_dependencies"
"""tf_keras 2.13-era archives name the layers list this way; Keras 3's loader falls back to it."""
OPTIMIZER_GROUP = "optimizer"
METRICS_ROOTS = ("metrics", "compile_metrics", "_compile_metrics")
KERAS3_ROOT_GROUPS = (LAYERS_GROUP, VARS_GROUP, OPTIMIZER_GROUP, LEGACY_LAYERS_GROUP)
NAME_ATTR = "name"
LIST_ELEMENT_GROUP = "container"
MODEL_CLASSES_WITH_LAYERS_FIRST = ("Sequential", "Functional")
INPUT_LAYER_CLASS = "InputLayer"

_NUMERIC_SUFFIX = re.compile(r"^(?P<base>.*?)(?:_(?P<n>\d+))?$")


# --- container keys from config.json ---------------------------------------------------------------


def to_snake_case(name: str) -> str:
    """keras.src.utils.naming.to_snake_case: how Keras 3 turns a class name into a container key."""
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


@dataclass(frozen=True)
class ConfiguredLayer:
    """What config.json says about the object Keras saves at one container path."""

    name: str | None
    class_name: str


@dataclass
class ConfigContainers:
    """Container paths derived from config.json: the layer at each path, and each list's element order."""

    layers: dict[str, ConfiguredLayer] = field(default_factory=dict)
    list_orders: dict[str, list[str]] = field(default_factory=dict)


def containers_from_config(config: Any, weighted: Callable[[str], bool] | None = None) -> ConfigContainers:
    """Derive Keras 3 container paths from a model config, by Keras' own naming rule.

    Every `layers` list of a Sequential or Functional config (nested models included) is numbered the
    way `_save_container_state` numbers `model.layers`: snake_case of the class name, `_1`, `_2`, ...
    for repeats; a Sequential's leading InputLayer is not in `model.layers` and is skipped.

    With `weighted` (a test of whether the file holds variables under a container path), the numbering
    is Keras 2.12-2.13's instead: their walk met every weighted layer twice in
    `_layer_checkpoint_dependencies` (`layer_with_weights-k`, then `layer-i`) and named both, so the
    n-th weighted layer of a class is `conv2d_{2n}` and a weightless one moves the counter by one
    (keras-team/keras v2.13.1, keras/saving/saving_lib.py `_save_container_state`; fixed in 2.14 by
    commit 0454a403). docs/formats-research.md, section 6, has the details.
    """
    found = ConfigContainers()
    if isinstance(config, dict):
        _walk_config(config, "", found, weighted)
    return found


def _walk_config(
    layer_config: dict[str, Any], prefix: str, found: ConfigContainers, weighted: Callable[[str], bool] | None = None
) -> None:
    inner = layer_config.get("config")
    layer_list = inner.get("layers") if isinstance(inner, dict) else None
    if not isinstance(layer_list, list):
        return
    if layer_config.get("class_name") == "Sequential" and layer_list:
        first = layer_list[0]
        if isinstance(first, dict) and first.get("class_name") == INPUT_LAYER_CLASS:
            layer_list = layer_list[1:]
    list_path = _join(prefix, LEGACY_LAYERS_GROUP if weighted is not None else LAYERS_GROUP)
    used: dict[str, int] = {}
    counters: dict[str, int] = {}
    order: list[str] = []
    for item in layer_list:
        if not isinstance(item, dict) or not isinstance(item.get("class_name"), str):
            continue
        stem = to_snake_case(item["class_name"])
        if weighted is None:
            key = _unique_name(stem, used)
        else:
            count = counters.get(stem, 0)
            key = stem if count == 0 else f"{stem}_{count}"
            counters[stem] = count + (2 if weighted(_join(list_path, key)) else 1)
        path = _join(list_path, key)
        order.append(key)
        found.layers[path] = ConfiguredLayer(name=_config_layer_name(item), class_name=item["class_name"])
        _walk_config(item, path, found, weighted)
    found.list_orders[list_path] = order


def _unique_name(name: str, used: dict[str, int]) -> str:
    """keras.src.saving.saving_lib._get_unique_name."""
    if name in used:
        used[name] += 1
        return f"{name}_{used[name]}"
    used[name] = 0
    return name


def _config_layer_name(item: dict[str, Any]) -> str | None:
    name = item.get("name")
    if not isinstance(name, str) and isinstance(item.get("config"), dict):
        name = item["config"].get("name")
    return name if isinstance(name, str) else None


def _join(prefix: str, name: str) -> str:
    return f"{prefix}/{name}" if prefix else name


# --- the weights layout ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Keras3Layout:
    """What read_keras3_layout found in a Keras 3 weights file."""

    entries: tuple[TensorEntry, ...]
    layers: tuple[LayerRecord, ...]
    notes: tuple[str, ...]
    layers_group: str | None
    renumbered: dict[str, str] = field(default_factory=dict)
    """Keras 2.12-2.13 files: container path as stored -> the path Keras 2.14+ and 3 give the same layer
    (`_layer_checkpoint_dependencies/conv2d_2` -> `_layer_checkpoint_dependencies/conv2d_1`), where they differ."""

    def metadata(self) -> dict[str, Any]:
        """Format facts for Artifact.metadata."""
        facts: dict[str, Any] = {
            "has_optimizer_weights": any(e.group == "optimizer" for e in self.entries),
            "layers_group": self.layers_group,
        }
        if self.renumbered:
            facts["renumbered_containers"] = dict(self.renumbered)
        return facts


def read_keras3_layout(
    h5: h5py.File, display: str, config: dict[str, Any] | None, keras_version: str | None = None
) -> Keras3Layout:
    """List every container and variable of a Keras 3 weights file, in Keras' visit order.

    Args:
        h5: the open weights file (on disk or inside an archive).
        display: the user-facing name, for messages.
        config: the archive's parsed config.json, or None for a bare `.weights.h5`.
    """
    legacy_layers = LEGACY_LAYERS_GROUP in h5 and LAYERS_GROUP not in h5
    layers_group = LEGACY_LAYERS_GROUP if legacy_layers else LAYERS_GROUP
    doubled = legacy_layers and (keras_version or "").startswith(("2.12", "2.13"))
    renumbered: dict[str, str] = {}
    if doubled:
        derived = containers_from_config(config, weighted=lambda path: _holds_variables(h5, path))
        single = _rename_layers_group(containers_from_config(config))
        renumbered = {d: s for d, s in zip(derived.layers, single.layers, strict=False) if d != s and d in h5}
    else:
        derived = containers_from_config(config)
        if legacy_layers:
            derived = _rename_layers_group(derived)
    entries: dict[str, TensorEntry] = {}
    records: list[LayerRecord] = []
    notes: list[str] = []
    odd_names: list[str] = []
    skipped_links: list[str] = []
    for container in _iter_containers(h5, "", derived, skipped_links):
        group = container_group(container.path)
        keys: list[str] = []
        names = _name_chain(h5, container.path, derived, display)
        for index, dataset in _vars_in_order(container.vars, odd_names):
            paths = (f"{names}/{VARS_GROUP}/{index}",) if names and group == "model" else ()
            entry = make_h5_entry(dataset, group, paths, display)
            entries.setdefault(entry.key, entry)
            keys.append(entry.key)
        if group != "model" or (container.path == "" and not keys):
            continue
        configured = derived.layers.get(container.path)
        records.append(
            LayerRecord(
                name=container.path,
                weight_keys=tuple(keys),
                class_name=configured.class_name if configured else None,
                layer_name=(configured.name if configured else None) or _vars_name(container.vars, display),
            )
        )
    stray = [d for d in all_datasets(h5) if d.name.lstrip("/") not in entries]
    for dataset in stray:
        key = dataset.name.lstrip("/")
        entries[key] = make_h5_entry(dataset, container_group(key), display=display)
    if stray:
        notes.append(
            f"{len(stray)} dataset(s) are not variables of any container's vars group (Keras' loader "
            f"ignores them): {summarize([d.name.lstrip('/') for d in stray])}"
        )
    if odd_names:
        notes.append(
            f"vars groups hold named rather than numbered variables (few layers write them, e.g. "
            f"StringLookup's idf_weights); listed after the numbered ones: {summarize(odd_names)}"
        )
    if skipped_links:
        notes.append(f"links to other files were not followed: {summarize(skipped_links)}")
    notes.extend(_config_mismatches(h5, derived, records))
    if renumbered:
        notes.append(
            f"written by Keras {keras_version}, which numbered every weighted layer twice: "
            + ", ".join(f"{d.rsplit('/', 1)[-1]} holds {s.rsplit('/', 1)[-1]}" for d, s in list(renumbered.items())[:4])
            + (" ..." if len(renumbered) > 4 else "")
            + "; Keras 3 loads these containers by their stored names, into the wrong layers"
        )
    return Keras3Layout(
        entries=tuple(entries.values()),
        layers=tuple(records),
        notes=tuple(notes),
        layers_group=layers_group if layers_group in h5 else None,
        renumbered=renumbered,
    )


def container_group(path: str) -> Group:
    """The TensorEntry group of anything stored under a container path."""
    root = path.split("/", 1)[0]
    if root == OPTIMIZER_GROUP:
        return Group.OPTIMIZER
    if root in METRICS_ROOTS:
        return Group.BOOKKEEPING
    return Group.MODEL


@dataclass(frozen=True)
class _Container:
    path: str
    vars: h5py.Group


def _iter_containers(
    group: h5py.Group, path: str, derived: ConfigContainers, skipped_links: list[str]
) -> Iterator[_Container]:
    """Depth-first, in Keras' visit order, every container that has a `vars` group."""
    children: dict[str, h5py.Group] = {}
    for name in group:
        link = group.get(name, getlink=True)
        if not isinstance(link, (h5py.HardLink, h5py.SoftLink)):
            skipped_links.append(_join(path, name))
            continue
        child = group[name]
        if isinstance(child, h5py.Group):
            children[name] = child
    own_vars = children.pop(VARS_GROUP, None)
    if own_vars is not None:
        yield _Container(path, own_vars)
    for name in _child_order(path, list(children), is_list=own_vars is None and path != "", derived=derived):
        yield from _iter_containers(children[name], _join(path, name), derived, skipped_links)


def _child_order(path: str, names: list[str], *, is_list: bool, derived: ConfigContainers) -> list[str]:
    configured = derived.list_orders.get(path)
    if configured is not None:
        known = [n for n in configured if n in names]
        return known + sorted((n for n in names if n not in configured), key=list_element_key)
    if is_list:
        return sorted(names, key=list_element_key)
    first = [n for n in (LAYERS_GROUP, LEGACY_LAYERS_GROUP) if n in names]
    return first + sorted((n for n in names if n not in first), key=_attribute_key)


def _attribute_key(name: str) -> str:
    """keras.src.saving.saving_lib._name_key: private attributes are visited last."""
    return f"~{name}" if name.startswith("_") else name


def list_element_key(name: str) -> tuple[str, int]:
    """`dense` < `dense_1` < `dense_2` < `dense_10`: the order _get_unique_name numbers a list."""
    m = _NUMERIC_SUFFIX.match(name)
    assert m is not None  # the pattern matches every string
    return (m.group("base"), int(m.group("n") or 0))


def _vars_in_order(vars_group: h5py.Group, odd_names: list[str]) -> Iterator[tuple[str, h5py.Dataset]]:
    numeric: list[tuple[int, str]] = []
    other: list[str] = []
    for name in vars_group:
        if not isinstance(vars_group.get(name, getlink=True), (h5py.HardLink, h5py.SoftLink)):
            continue
        if not isinstance(vars_group[name], h5py.Dataset):
            continue
        if name.isdigit():
            numeric.append((int(name), name))
        else:
            other.append(name)
            odd_names.append(f"{vars_group.name.lstrip('/')}/{name}")
    for _, name in sorted(numeric):
        yield name, vars_group[name]
    for name in sorted(other):
        yield name, vars_group[name]


def _vars_name(vars_group: h5py.Group, display: str) -> str | None:
    if NAME_ATTR not in vars_group.attrs:
        return None
    return decode_text(vars_group.attrs[NAME_ATTR], f"attribute name of {vars_group.name}", display)


def _name_chain(h5: h5py.File, path: str, derived: ConfigContainers, display: str) -> str:
    """`inner/dense_2` for `layers/sequential/layers/dense`: the names of the named containers on the
    way, list containers dropped; empty when no container on the way records a name."""
    if not path:
        return ""
    parts = path.split("/")
    chain: list[str] = []
    any_named = False
    for depth in range(1, len(parts) + 1):
        prefix = "/".join(parts[:depth])
        configured = derived.layers.get(prefix)
        name = configured.name if configured else None
        node = h5.get(prefix)
        vars_group = node.get(VARS_GROUP) if isinstance(node, h5py.Group) else None
        if name is None and isinstance(vars_group, h5py.Group):
            name = _vars_name(vars_group, display)
        if name is not None:
            chain.append(name)
            any_named = True
        elif configured is not None or isinstance(vars_group, h5py.Group):
            chain.append(parts[depth - 1])
        # otherwise a list container (`layers`, `container`): it names no object
    return "/".join(chain) if any_named else ""


def _holds_variables(h5: h5py.File, path: str) -> bool:
    node: Any = h5
    for part in (*path.split("/"), VARS_GROUP):
        node = local_child(node, part) if isinstance(node, h5py.Group) else None
        if node is None:
            return False
    return isinstance(node, h5py.Group) and any(isinstance(local_child(node, k), h5py.Dataset) for k in node)


def _rename_layers_group(derived: ConfigContainers) -> ConfigContainers:
    """Keras 3 loads a `_layer_checkpoint_dependencies` file by renaming `layers` in every path."""

    def rename(path: str) -> str:
        return "/".join(LEGACY_LAYERS_GROUP if p == LAYERS_GROUP else p for p in path.split("/"))

    return ConfigContainers(
        layers={rename(k): v for k, v in derived.layers.items()},
        list_orders={rename(k): v for k, v in derived.list_orders.items()},
    )


def _config_mismatches(h5: h5py.File, derived: ConfigContainers, records: list[LayerRecord]) -> list[str]:
    """Containers with variables in a configured list that config.json does not produce."""
    if not derived.list_orders:
        return []
    unexpected = [
        r.name
        for r in records
        if r.weight_keys
        and "/" in r.name
        and r.name.rsplit("/", 1)[0] in derived.list_orders
        and r.name not in derived.layers
    ]
    if not unexpected:
        return []
    return [
        f"{len(unexpected)} container(s) hold variables but config.json declares no layer there, so "
        f"Keras' loader would not assign them: {summarize(unexpected)}"
    ]
