"""Legacy Keras HDF5 files (`model.save("x.h5")`, `save_weights("x.h5")`): read with h5py, never loaded.

Two layouts share this format (`keras-h5`), written by Keras 1, every Keras 2 / tf_keras and Keras 3's
legacy saver:

* full model: root attributes `model_config`, `training_config`, `keras_version`, `backend`; the weights
  under `model_weights/` (which carries `layer_names`); optimizer state under `optimizer_weights/`
  (which carries its own `weight_names`);
* weights only: the root itself carries `layer_names`, `keras_version` and `backend`.

Each layer group carries `weight_names`, and weight `w` of layer `L` is the dataset `<root>/L/w`, where `w`
may hold slashes (`dense_1/kernel:0`, `lstm/lstm_cell/kernel:0`, Keras 3's `mlp/dense/kernel`, a nested
model's `dense/kernel:0`), so the dataset can sit one or more groups below the layer group. Name lists
longer than HDF5's 64 KiB attribute limit are split into `layer_names0`, `layer_names1`, ...; old files
store names as numpy byte strings, and an empty list as an empty float64 array.

Conventions of the returned Artifact:

* one TensorEntry per dataset of the file; `key` is the dataset's full HDF5 path without the leading
  slash (`model_weights/dense/dense/kernel:0`);
* `paths` holds one name, the recorded weight name qualified by its layer: the name as recorded when
  one of its `/`-separated parts already is the layer name (`dense/kernel:0`, `mlp/dense/kernel`),
  otherwise `<layer>/<name>` (`conv2d/kernel` for Keras 3.1's bare `kernel`, `inner/dense/kernel:0` for
  a weight of nested model `inner`). Optimizer weights keep their recorded name (`Adam/m/dense/kernel:0`);
* group: `model` for layer weights, `optimizer` for everything listed in `optimizer_weights` (the
  `iterations`/`iteration` counter included);
* entries come in loader order: layers in `layer_names` order and each layer's weights in
  `weight_names` order, then Keras 3's `top_level_model_weights`, then `optimizer_weights`, then any
  dataset no name list mentions (h5py's alphabetical visit order, with a note);
* `layers` has one LayerRecord per `layer_names` entry, in file order, including layers that hold no
  weights (Keras' topological loader skips those when it pairs saved and live layers; keeping them
  shows the full recorded structure). `weight_keys` follow `weight_names` order; a listed weight whose
  dataset is missing is left out of `weight_keys` and reported in `notes`. Keras 3's
  `top_level_model_weights` group gets a record only when it lists weights.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from ckptdiff.artifact import FORMAT_KERAS_H5, Artifact, Group, LayerRecord, TensorEntry
from ckptdiff.errors import CkptdiffError, CorruptArtifact, NotHdf5, UnknownArtifactKind
from ckptdiff.readers.groups import classify_key
from ckptdiff.readers.h5_safety import check_dataset_fits, check_global_heaps
from ckptdiff.readers.sources import H5DatasetSource

LAYER_NAMES_ATTR = "layer_names"
WEIGHT_NAMES_ATTR = "weight_names"
MODEL_WEIGHTS_GROUP = "model_weights"
OPTIMIZER_WEIGHTS_GROUP = "optimizer_weights"
TOP_LEVEL_WEIGHTS_GROUP = "top_level_model_weights"
"""Keras 3's legacy saver puts a model's own (non-layer) variables here; it is not in `layer_names`."""
MODEL_CONFIG_ATTR = "model_config"
TRAINING_CONFIG_ATTR = "training_config"
KIND_FULL_MODEL = "full-model"
KIND_WEIGHTS_ONLY = "weights-only"
DTYPE_ATTR = "dtype"
"""Keras 3 stores bfloat16 as 2-byte opaque data and names the real dtype in this dataset attribute."""
MAX_LISTED_IN_NOTE = 5

# h5py raises these for damaged files (bad B-tree nodes, truncated heaps, dangling links).
H5_ERRORS: tuple[type[BaseException], ...] = (OSError, KeyError, RuntimeError, ValueError)


def read_keras_h5(path: Path, display: str) -> Artifact:
    """Read a legacy Keras HDF5 file (full model or weights only) without loading it into Keras.

    Args:
        path: the file.
        display: the path as the user gave it, for messages and `Artifact.path`.

    Returns:
        The artifact (format `keras-h5`); it keeps the HDF5 file open until closed.

    Raises:
        NotHdf5: the file is not HDF5.
        CorruptArtifact: h5py cannot read the file, or an attribute has the wrong type.
        UnknownArtifactKind: the file is HDF5 but has no Keras weights layout.
    """
    h5 = open_hdf5_readonly(path, display)
    resources = contextlib.ExitStack()
    resources.callback(h5.close)
    try:
        return _read_legacy_layout(h5, display, str(path), resources)
    except CkptdiffError:
        resources.close()
        raise
    except H5_ERRORS as exc:
        resources.close()
        raise CorruptArtifact(f"{display}: damaged HDF5 file ({one_line(exc)})") from None


# --- shared with keras_v3 ----------------------------------------------------------------------


def open_hdf5_readonly(path: Path | Any, display: str, *, member: str | None = None) -> h5py.File:
    """Open an HDF5 file (or a binary file-like object) read-only, mapping h5py errors to ours.

    Args:
        path: a path, or a seekable binary file-like object.
        display: the user-facing name, for messages.
        member: the archive member being opened, when it is one (`model.weights.h5`).

    Raises:
        NotHdf5: the bytes are not HDF5.
        CorruptArtifact: they are HDF5 but h5py cannot open them.
    """
    try:
        check_global_heaps(path, display)
        return h5py.File(path, "r")
    except H5_ERRORS as exc:
        subject = f"member {member} is " if member else ""
        if not _has_hdf5_signature(path):
            raise NotHdf5(f"{display}: {subject}not an HDF5 file ({one_line(exc)})") from None
        damaged = "a damaged HDF5 file" if member else "damaged HDF5 file"
        raise CorruptArtifact(f"{display}: {subject}{damaged} ({one_line(exc)})") from None


def _has_hdf5_signature(path: Path | Any) -> bool:
    try:
        if isinstance(path, (str, Path)):
            return h5py.is_hdf5(path)
        path.seek(0)
        return path.read(8) == b"\x89HDF\r\n\x1a\n"
    except (OSError, ValueError):
        return False


def one_line(exc: BaseException) -> str:
    """An exception's message on one line (h5py messages can span several)."""
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


def decode_text(value: Any, what: str, display: str) -> str:
    """Decode a string attribute written as str, bytes or numpy bytes; anything else is corruption."""
    if isinstance(value, np.ndarray) and value.shape == ():
        value = value[()]
    if isinstance(value, (bytes, np.bytes_)):
        try:
            return bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            raise CorruptArtifact(f"{display}: {what} is not UTF-8 text") from None
    if isinstance(value, str):
        return str(value)
    raise CorruptArtifact(f"{display}: {what} is {type(value).__name__}, expected a string")


def read_name_list(group: h5py.Group, name: str, display: str) -> list[str] | None:
    """Read a Keras name-list attribute, joining the `name0`, `name1`, ... chunks of long lists.

    Returns:
        The names, or None when the attribute is absent.
    """
    attrs = group.attrs
    if name in attrs:
        chunks = [attrs[name]]
    else:
        chunks = []
        while f"{name}{len(chunks)}" in attrs:
            chunks.append(attrs[f"{name}{len(chunks)}"])
        if not chunks:
            return None
    where = f"attribute {name} of {group.name}"
    names: list[str] = []
    for chunk in chunks:
        if not isinstance(chunk, np.ndarray) or chunk.ndim != 1:
            raise CorruptArtifact(
                f"{display}: {where} is {type(chunk).__name__}, expected an array of names"
            )
        if chunk.size == 0:
            continue  # Keras writes an empty list as an empty float64 array.
        names.extend(decode_text(item, where, display) for item in chunk)
    return names


def dtype_name(dataset: h5py.Dataset) -> str:
    """numpy-style dtype name of a dataset; `bfloat16` for Keras 3's tagged opaque data."""
    dt = dataset.dtype
    tagged = dataset.attrs.get(DTYPE_ATTR) if dt.kind == "V" else None
    if isinstance(tagged, (bytes, np.bytes_)):
        tagged = bytes(tagged).decode("utf-8", "replace")
    if tagged == "bfloat16" and dt.itemsize == 2:
        return "bfloat16"
    if dt.kind in "SUO":
        return "string"
    return dt.name


def dataset_source(dataset: h5py.Dataset) -> H5DatasetSource:
    """An H5DatasetSource, viewing Keras 3's opaque bfloat16 bytes as bfloat16 when ml_dtypes exists."""
    if dtype_name(dataset) == "bfloat16":
        try:
            import ml_dtypes  # a numpy dtype package; it does not import TensorFlow

            return H5DatasetSource(dataset, view_dtype=np.dtype(ml_dtypes.bfloat16))
        except ImportError:
            return H5DatasetSource(dataset, view_dtype=np.dtype(np.uint16))
    return H5DatasetSource(dataset)


def make_h5_entry(dataset: h5py.Dataset, group: Group, paths: tuple[str, ...] = (), display: str | None = None) -> TensorEntry:
    """A TensorEntry for one dataset, keyed by its full HDF5 path without the leading slash.

    Raises:
        CorruptArtifact: the dataset's declared shape and dtype do not fit the file (check_dataset_fits).
    """
    check_dataset_fits(dataset, display or str(dataset.file.filename))
    shape = dataset.shape if dataset.shape is not None else ()
    try:
        nbytes: int | None = int(dataset.id.get_storage_size())
    except H5_ERRORS:
        nbytes = None
    return TensorEntry(
        key=dataset.name.lstrip("/"),
        shape=tuple(int(d) for d in shape),
        dtype=dtype_name(dataset),
        group=group,
        source=dataset_source(dataset),
        paths=paths,
        nbytes=nbytes,
    )


def resolve_dataset(group: h5py.Group, relpath: str) -> h5py.Dataset | str:
    """Follow relpath below group through hard and soft links only.

    Returns:
        The dataset, or a short reason why there is none (missing, a group, an external link).
        External links are never followed: they would make the reader open another file.
    """
    node: Any = group
    parts = [p for p in relpath.split("/") if p not in ("", ".")]
    if not parts:
        return "empty weight name"
    for part in parts:
        if not isinstance(node, h5py.Group) or part not in node:
            return "missing"
        link = node.get(part, getlink=True)
        if isinstance(link, h5py.ExternalLink):
            return f"external link to {link.filename}:{link.path}, not followed"
        if not isinstance(link, (h5py.HardLink, h5py.SoftLink)):
            return "user-defined link, not followed"
        node = node[part]
    if not isinstance(node, h5py.Dataset):
        return "a group, not a dataset"
    return node


def summarize(items: list[str]) -> str:
    """`a, b, c` or `a, b, c, ... (12 in all)` for notes."""
    shown = ", ".join(items[:MAX_LISTED_IN_NOTE])
    return shown if len(items) <= MAX_LISTED_IN_NOTE else f"{shown}, ... ({len(items)} in all)"


def all_datasets(h5: h5py.File) -> list[h5py.Dataset]:
    """Every dataset reachable by hard links, in h5py's visit order."""
    found: list[h5py.Dataset] = []

    def visit(_name: str, obj: Any) -> None:
        if isinstance(obj, h5py.Dataset):
            found.append(obj)

    h5.visititems(visit)
    return found


# --- the legacy layout ---------------------------------------------------------------------------


@dataclass
class _Collector:
    """Entries in loader order, deduplicated by key, with the notes the reader writes."""

    display: str
    entries: dict[str, TensorEntry] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)

    def add_listed(self, owner: h5py.Group, weight_name: str, group: Group, path: str) -> str | None:
        found = resolve_dataset(owner, weight_name)
        if isinstance(found, str):
            self.missing.append(f"{owner.name.lstrip('/')}/{weight_name} ({found})")
            return None
        key = found.name.lstrip("/")
        if key in self.entries:
            self.duplicates.append(key)
        else:
            self.entries[key] = make_h5_entry(found, group, (path,), self.display)
        return key


def _read_legacy_layout(
    h5: h5py.File, display: str, resolved: str, resources: contextlib.ExitStack
) -> Artifact:
    if MODEL_WEIGHTS_GROUP in h5 and isinstance(h5.get(MODEL_WEIGHTS_GROUP), h5py.Group):
        kind, weights_root = KIND_FULL_MODEL, h5[MODEL_WEIGHTS_GROUP]
    elif read_name_list(h5, LAYER_NAMES_ATTR, display) is not None:
        kind, weights_root = KIND_WEIGHTS_ONLY, h5
    else:
        raise UnknownArtifactKind(
            f"{display}: HDF5 but not a Keras weights file (no {LAYER_NAMES_ATTR} attribute, "
            f"no {MODEL_WEIGHTS_GROUP} group, no Keras 3 layers/vars groups)"
        )
    collector = _Collector(display)
    config = _parse_json_attr(h5, MODEL_CONFIG_ATTR, display)
    training_config = _parse_json_attr(h5, TRAINING_CONFIG_ATTR, display)
    layers = _read_layers(weights_root, collector, _layer_classes(config), display)
    has_optimizer = isinstance(h5.get(OPTIMIZER_WEIGHTS_GROUP), h5py.Group)
    if has_optimizer:
        _read_optimizer_weights(h5[OPTIMIZER_WEIGHTS_GROUP], collector, display)
    _add_unlisted(h5, collector)
    if collector.missing:
        collector.notes.append(
            f"{len(collector.missing)} listed weight(s) have no dataset, so Keras cannot load this "
            f"file: {summarize(collector.missing)}"
        )
    if collector.duplicates:
        collector.notes.append(f"weight names list the same dataset twice: {summarize(collector.duplicates)}")
    metadata: dict[str, Any] = {
        "kind": kind,
        "keras_version": _text_attr(h5, weights_root, "keras_version", display),
        "backend": _text_attr(h5, weights_root, "backend", display),
        "has_optimizer_weights": has_optimizer,
        "has_training_config": training_config is not None,
    }
    if isinstance(config, dict) and isinstance(config.get("class_name"), str):
        metadata["model_class"] = config["class_name"]
    optimizer_class = _optimizer_class(training_config)
    if optimizer_class:
        metadata["optimizer_class"] = optimizer_class
    return Artifact(
        path=display,
        format=FORMAT_KERAS_H5,
        entries=tuple(collector.entries.values()),
        resolved=resolved,
        layers=tuple(layers),
        config=config if isinstance(config, dict) else None,
        metadata=metadata,
        notes=tuple(collector.notes),
        resources=resources,
    )


def _read_layers(
    weights_root: h5py.Group, collector: _Collector, classes: dict[str, str], display: str
) -> list[LayerRecord]:
    layer_names = read_name_list(weights_root, LAYER_NAMES_ATTR, display)
    if layer_names is None:
        collector.notes.append(
            f"{weights_root.name} has no {LAYER_NAMES_ATTR} attribute, so Keras cannot load it; "
            "its datasets are listed without layers"
        )
        layer_names = []
    records: list[LayerRecord] = []
    absent: list[str] = []
    for name in layer_names:
        layer_group = weights_root.get(name)
        if not isinstance(layer_group, h5py.Group):
            absent.append(name)
            records.append(
                LayerRecord(name=name, weight_keys=(), class_name=classes.get(name), layer_name=name)
            )
            continue
        records.append(_read_layer(layer_group, name, collector, classes.get(name), display))
    if absent:
        collector.notes.append(
            f"{len(absent)} layer(s) in {LAYER_NAMES_ATTR} have no group: {summarize(absent)}"
        )
    top = weights_root.get(TOP_LEVEL_WEIGHTS_GROUP)
    if TOP_LEVEL_WEIGHTS_GROUP not in layer_names and isinstance(top, h5py.Group):
        record = _read_layer(top, TOP_LEVEL_WEIGHTS_GROUP, collector, None, display)
        if record.weight_names:
            records.append(record)
    return records


def _read_layer(
    layer_group: h5py.Group, name: str, collector: _Collector, class_name: str | None, display: str
) -> LayerRecord:
    weight_names = read_name_list(layer_group, WEIGHT_NAMES_ATTR, display) or []
    keys: list[str] = []
    for weight_name in weight_names:
        key = collector.add_listed(layer_group, weight_name, "model", qualify_weight_name(name, weight_name))
        if key is not None:
            keys.append(key)
    return LayerRecord(
        name=name,
        weight_keys=tuple(keys),
        weight_names=tuple(weight_names),
        class_name=class_name,
        layer_name=name,
    )


def qualify_weight_name(layer: str, weight_name: str) -> str:
    """The recorded weight name, prefixed with `<layer>/` unless one of its parts already is the layer."""
    if layer in weight_name.split("/"):
        return weight_name
    return f"{layer}/{weight_name}"


def _read_optimizer_weights(group: h5py.Group, collector: _Collector, display: str) -> None:
    for weight_name in read_name_list(group, WEIGHT_NAMES_ATTR, display) or []:
        collector.add_listed(group, weight_name, "optimizer", weight_name)


def _add_unlisted(h5: h5py.File, collector: _Collector) -> None:
    unlisted: list[str] = []
    for dataset in all_datasets(h5):
        key = dataset.name.lstrip("/")
        if key in collector.entries:
            continue
        collector.entries[key] = make_h5_entry(dataset, classify_key(key), display=collector.display)
        unlisted.append(key)
    if unlisted:
        collector.notes.append(
            f"{len(unlisted)} dataset(s) are not listed in any weight_names (Keras' loader ignores "
            f"them); included as entries: {summarize(unlisted)}"
        )


def _text_attr(h5: h5py.File, weights_root: h5py.Group, name: str, display: str) -> str | None:
    for holder in (h5, weights_root):
        if name in holder.attrs:
            return decode_text(holder.attrs[name], f"attribute {name} of {holder.name}", display)
    return None


def _parse_json_attr(h5: h5py.File, name: str, display: str) -> Any:
    if name not in h5.attrs:
        return None
    text = decode_text(h5.attrs[name], f"root attribute {name}", display)
    try:
        return json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise CorruptArtifact(
            f"{display}: root attribute {name} is not valid JSON ({one_line(exc)})"
        ) from None


def _layer_classes(config: Any) -> dict[str, str]:
    """Layer name -> class name from a model_config: Functional/Model, Sequential, Keras 2.0's list form."""
    if not isinstance(config, dict):
        return {}
    inner = config.get("config")
    layer_list = inner.get("layers") if isinstance(inner, dict) else inner
    if not isinstance(layer_list, list):
        return {}
    classes: dict[str, str] = {}
    for item in layer_list:
        if not isinstance(item, dict) or not isinstance(item.get("class_name"), str):
            continue
        name = item.get("name")
        if not isinstance(name, str) and isinstance(item.get("config"), dict):
            name = item["config"].get("name")
        if isinstance(name, str):
            classes[name] = item["class_name"]
    return classes


def _optimizer_class(training_config: Any) -> str | None:
    if not isinstance(training_config, dict):
        return None
    optimizer = training_config.get("optimizer_config")
    if isinstance(optimizer, dict) and isinstance(optimizer.get("class_name"), str):
        return optimizer["class_name"]
    return None
