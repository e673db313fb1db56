"""Keras 3 model directories (`save_model(m, path, zipped=False)`) and KerasHub preset directories.

An unzipped model directory holds the three members of a `.keras` archive as plain files:
`config.json`, `metadata.json` and `model.weights.h5` (keras/src/saving/saving_lib.py,
`_save_model_to_dir`). A KerasHub preset (keras_hub/src/utils/preset_utils.py, `KerasPresetSaver`)
holds the backbone's `config.json`, `metadata.json` with the Keras and keras_hub versions, the tasks
and the parameter count, the backbone's weights as `model.weights.h5` (or sharded:
`model.weights.json` and `model_NNNNN.weights.h5`), tokenizer and preprocessor configs, `assets/`,
and for task presets `task.json` and `task.weights.h5`. Both are read like an archive: the weights in
the Keras 3 container layout (keras3_layout), attributed to the config's layers.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from ckptdiff.artifact import Artifact, Format
from ckptdiff.errors import CorruptArtifact, one_line
from ckptdiff.formats.hdf5 import H5_ERRORS, read_hdf5_guarded
from ckptdiff.formats.interface import ArtifactKind, Detection
from ckptdiff.formats.keras3_layout import read_keras3_layout
from ckptdiff.formats.keras_config import config_text_findings, read_json_file
from ckptdiff.integrity import IntegrityReport
from ckptdiff.scanning.interface import Finding, ScanResult
from ckptdiff.storage import Location

CONFIG_FILE = "config.json"
METADATA_FILE = "metadata.json"
WEIGHTS_FILE = "model.weights.h5"
SHARDED_WEIGHTS_FILE = "model.weights.json"
PRESET_FILES = ("tokenizer.json", "preprocessor.json", "task.json", "task.weights.h5")
HUB_METADATA_KEYS = ("keras_version", "keras_hub_version", "parameter_count", "tasks", "date_saved")


def is_hub_preset(directory: Location) -> bool:
    """A KerasHub preset: its metadata names a keras_hub version, or its config a `keras_hub>` class."""
    try:
        meta = (
            json.loads(directory.child(METADATA_FILE).read_bytes()) if directory.child(METADATA_FILE).is_file() else {}
        )
    except (OSError, ValueError, RecursionError):
        meta = {}
    return isinstance(meta, dict) and "keras_hub_version" in meta


def read_keras_model_dir(directory: Location, display: str) -> Artifact:
    """Open an unzipped Keras model directory or a KerasHub preset without loading it into Keras.

    Raises:
        UnknownArtifactKind: the weights are sharded (model.weights.json), which is not read yet.
        CorruptArtifact: a JSON file or the weights file is damaged.
    """
    config = read_json_file(directory.child(CONFIG_FILE), display)
    if not isinstance(config, dict):
        raise CorruptArtifact(f"{display}: {CONFIG_FILE} is not a JSON object")
    metadata_file = directory.child(METADATA_FILE)
    saved = read_json_file(metadata_file, display) if metadata_file.is_file() else {}
    saved = saved if isinstance(saved, dict) else {}
    weights = directory.child(WEIGHTS_FILE)
    hub = "keras_hub_version" in saved
    if not weights.is_file():
        if not directory.child(SHARDED_WEIGHTS_FILE).is_file():
            raise CorruptArtifact(f"{display}: {CONFIG_FILE} but no {WEIGHTS_FILE}: the weights are missing")
        # Sharded, as KerasHub saves large backbones: the shards in save order, named by their containers.
        from ckptdiff.formats.keras_sharded import read_keras_sharded

        sharded = read_keras_sharded(directory.child(SHARDED_WEIGHTS_FILE), display)
        return replace(
            sharded,
            format=Format.KERAS_HUB_PRESET if hub else Format.KERAS_MODEL_DIR,
            location=directory,
            config=config,
            metadata={**_metadata(config, saved, directory, hub), **sharded.metadata},
        )
    layout, resources = read_hdf5_guarded(
        weights,
        display,
        lambda h5, resources: (read_keras3_layout(h5, display, config=config), resources),
        WEIGHTS_FILE,
    )
    metadata: dict[str, Any] = {**_metadata(config, saved, directory, hub), **layout.metadata()}
    notes: list[str] = []
    if hub and directory.child("task.weights.h5").is_file():
        notes.append("task.weights.h5 (the task's head and optimizer) is not part of this artifact: inspect it alone")
    return Artifact(
        path=display,
        format=Format.KERAS_HUB_PRESET if hub else Format.KERAS_MODEL_DIR,
        entries=layout.entries,
        resolved=weights.display,
        location=directory,
        layers=layout.layers,
        config=config,
        metadata=metadata,
        notes=(*notes, *layout.notes),
        resources=resources,
    )


def _metadata(config: dict[str, Any], saved: dict[str, Any], directory: Location, hub: bool) -> dict[str, Any]:
    return {
        "kind": "keras-hub-preset" if hub else "model-directory",
        "model_class": config.get("class_name") if isinstance(config.get("class_name"), str) else None,
        **{k: saved[k] for k in HUB_METADATA_KEYS if k in saved},
        "preset_files": [f for f in PRESET_FILES if directory.child(f).is_file()] if hub else [],
    }


class KerasModelDirKind(ArtifactKind):
    """Unzipped Keras 3 model directories and KerasHub preset directories."""

    name = "keras-model-dir"
    scanner_name = "keras-model-dir"
    formats = (Format.KERAS_MODEL_DIR, Format.KERAS_HUB_PRESET)

    def detect(self, location: Location) -> Detection | None:
        if (
            location.is_dir()
            and location.child(CONFIG_FILE).is_file()
            and (location.child(WEIGHTS_FILE).is_file() or location.child(SHARDED_WEIGHTS_FILE).is_file())
        ):
            return Detection(self, location)
        return None

    def open(self, location: Location, display: str) -> Artifact:
        return read_keras_model_dir(location, display)

    def loader(self, artifact: Artifact) -> str:
        return "keras3"

    def verify(self, artifact: Artifact) -> IntegrityReport:
        from ckptdiff.formats.keras_h5 import verify_h5_datasets
        from ckptdiff.formats.keras_sharded import verify_shards

        directory = artifact.location
        if directory is not None and not directory.child(WEIGHTS_FILE).is_file():
            return verify_shards(replace(artifact, location=directory.child(SHARDED_WEIGHTS_FILE)))
        return verify_h5_datasets(artifact)

    def scan(self, location: Location, display: str) -> ScanResult:
        """The configs a loader deserialises (config.json, and a preset's task and preprocessor configs),
        and the weights file's HDF5 structure."""
        import h5py

        from ckptdiff.formats.hdf5 import structure_findings

        findings: list[Finding] = []
        scanned: list[str] = []
        for name in (CONFIG_FILE, "task.json", "preprocessor.json", "tokenizer.json"):
            file = location.child(name)
            if not file.is_file():
                continue
            try:
                text = file.read_bytes().decode("utf-8")
                found, _ = config_text_findings(text, name)
            except (OSError, UnicodeDecodeError, ValueError) as exc:
                raise CorruptArtifact(f"{display}: {name} is not a readable JSON file ({one_line(exc)})") from None
            findings += found
            scanned.append(name)
        for name in (WEIGHTS_FILE, "task.weights.h5"):
            file = location.child(name)
            if file.is_file():
                try:
                    with h5py.File(file.local_path or file.open_binary(), "r") as h5:
                        findings += structure_findings(h5, name)
                    scanned.append(f"{name}: HDF5 links and dataset layouts")
                except H5_ERRORS as exc:
                    raise CorruptArtifact(f"{display}: {name} is not readable HDF5 ({one_line(exc)})") from None
        fmt = Format.KERAS_HUB_PRESET if is_hub_preset(location) else Format.KERAS_MODEL_DIR
        return ScanResult(fmt, tuple(findings), tuple(scanned))


KIND = KerasModelDirKind()
