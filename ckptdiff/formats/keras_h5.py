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
import os
from dataclasses import dataclass, field, replace
from typing import Any

import h5py

from ckptdiff.artifact import Artifact, Format, Group, LayerRecord, TensorEntry
from ckptdiff.errors import CorruptArtifact, NotHdf5, UnknownArtifactKind, UnreadableArtifact
from ckptdiff.formats.groups import classify_key
from ckptdiff.formats.hdf5 import (
    H5_ERRORS,
    all_datasets,
    decode_text,
    is_hdf5,
    local_child,
    make_h5_entry,
    one_line,
    open_hdf5_readonly,
    read_hdf5_guarded,
    read_name_list,
    resolve_dataset,
    summarize,
)
from ckptdiff.formats.interface import ArtifactKind, Detection
from ckptdiff.integrity import IntegrityReport, VerifyMethod, read_every_entry
from ckptdiff.scanning.interface import Finding, ScanResult
from ckptdiff.storage import Location, as_location

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


def read_keras_h5(path: Location | str | os.PathLike[str], display: str) -> Artifact:
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
    path = as_location(path)
    artifact = read_hdf5_guarded(
        path, display, lambda h5, resources: _read_legacy_layout(h5, display, path.display, resources)
    )
    return replace(artifact, location=path)


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


def _read_legacy_layout(h5: h5py.File, display: str, resolved: str, resources: contextlib.ExitStack) -> Artifact:
    model_weights = local_child(h5, MODEL_WEIGHTS_GROUP)
    if isinstance(model_weights, h5py.Group):
        kind, weights_root = KIND_FULL_MODEL, model_weights
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
    optimizer_weights = local_child(h5, OPTIMIZER_WEIGHTS_GROUP)
    has_optimizer = isinstance(optimizer_weights, h5py.Group)
    if isinstance(optimizer_weights, h5py.Group):
        _read_optimizer_weights(optimizer_weights, collector, display)
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
        format=Format.KERAS_H5,
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
        layer_group = local_child(weights_root, name)
        if not isinstance(layer_group, h5py.Group):
            absent.append(name)
            records.append(LayerRecord(name=name, weight_keys=(), class_name=classes.get(name), layer_name=name))
            continue
        records.append(_read_layer(layer_group, name, collector, classes.get(name), display))
    if absent:
        collector.notes.append(f"{len(absent)} layer(s) in {LAYER_NAMES_ATTR} have no group: {summarize(absent)}")
    top = local_child(weights_root, TOP_LEVEL_WEIGHTS_GROUP)
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
        key = collector.add_listed(layer_group, weight_name, Group.MODEL, qualify_weight_name(name, weight_name))
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
        collector.add_listed(group, weight_name, Group.OPTIMIZER, weight_name)


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
        raise CorruptArtifact(f"{display}: root attribute {name} is not valid JSON ({one_line(exc)})") from None


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


# --- integrity and scanning (shared with the Keras 3 `.weights.h5` kind) ---------------------------

CONFIG_ATTRS = (MODEL_CONFIG_ATTR, TRAINING_CONFIG_ATTR)
H5_READ_ERRORS: tuple[type[BaseException], ...] = (*H5_ERRORS, TypeError)


def verify_h5_datasets(artifact: Artifact) -> IntegrityReport:
    """HDF5 stores no checksum for Keras datasets: every dataset is read in full (h5py raises on
    unreadable chunks, failed filters, truncated storage)."""
    checked, problems = read_every_entry(artifact, H5_READ_ERRORS)
    return IntegrityReport(
        artifact.path,
        VerifyMethod.HDF5_READ,
        checked,
        tuple(problems),
        ("HDF5 stores no checksum for Keras datasets: every dataset was read in full",),
    )


def scan_h5_configs(location: Location, display: str) -> tuple[list[Finding], list[str]]:
    """Findings in the `model_config` and `training_config` root attributes (whatever the layout), and in
    the file's structure (external links and storage, virtual datasets, declared-size bombs).

    Returns:
        (findings, the attributes scanned); the attributes are empty when the file holds no config.
    """
    from ckptdiff.formats.hdf5 import structure_findings
    from ckptdiff.formats.keras_config import CVE_LAMBDA, config_text_findings

    h5 = open_hdf5_readonly(location, display)
    findings: list[Finding] = []
    scanned: list[str] = []
    try:
        with h5:
            version = h5.attrs.get("keras_version", b"")
            version = version.decode("utf-8", "replace") if isinstance(version, bytes) else str(version)
            # Keras 3's legacy .h5 loader ignores safe_mode: a Lambda there runs (CVE-2025-9905).
            lambda_technique = "CVE-2025-9905" if version.startswith("3") else CVE_LAMBDA
            for attr in (a for a in CONFIG_ATTRS if a in h5.attrs):
                text = decode_text(h5.attrs[attr], f"root attribute {attr}", display)
                try:
                    found, _ = config_text_findings(text, f"root attribute {attr}", lambda_technique)
                except ValueError as exc:
                    raise CorruptArtifact(
                        f"{display}: root attribute {attr} is not valid JSON ({one_line(exc)})"
                    ) from None
                findings += [replace(f, location=f.location.removeprefix("root attribute ")) for f in found]
                scanned.append(f"root attribute {attr}")
            findings += structure_findings(h5, "hdf5")
    except H5_ERRORS as exc:
        raise CorruptArtifact(f"{display}: damaged HDF5 file ({one_line(exc)})") from None
    return findings, scanned


class KerasH5Kind(ArtifactKind):
    """Legacy Keras HDF5 files: full models and weights only, from Keras 1, Keras 2, tf_keras and Keras 3."""

    name = "keras-h5"
    formats = (Format.KERAS_H5,)
    suffixes = (".h5", ".hdf5")

    def detect(self, location: Location) -> Detection | None:
        if location.is_file() and is_hdf5(location):
            return Detection(self, location)
        return None

    def refuse(self, location: Location) -> UnreadableArtifact | None:
        """A file named like HDF5 whose bytes are not."""
        if location.is_file() and location.name.endswith(self.suffixes):
            return NotHdf5(f"{location.display}: not HDF5 (first bytes {location.read_range(0, 8)!r})")
        return None

    def open(self, location: Location, display: str) -> Artifact:
        return read_keras_h5(location, display)

    def loader(self, artifact: Artifact) -> str:
        return "h5-order"

    def verify(self, artifact: Artifact) -> IntegrityReport:
        return verify_h5_datasets(artifact)

    def scan(self, location: Location, display: str) -> ScanResult:
        findings, scanned = scan_h5_configs(location, display)
        if scanned:
            return ScanResult(Format.KERAS_H5, tuple(findings), (*scanned, "HDF5 links and dataset layouts"))
        if findings:  # the structure reaches outside the file: opening it for weights would refuse it
            return ScanResult(self.formats[0], tuple(findings), ("HDF5 links and dataset layouts",))
        # No architecture: make sure it is a weights file ckptdiff knows, which holds nothing that runs.
        with self.open(location, display) as artifact:
            fmt = artifact.format
        return ScanResult(fmt, (), ("HDF5 root attributes: no model_config (weights only)",))


KIND = KerasH5Kind()
