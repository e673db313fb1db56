"""Keras 3 sharded weights: `x.weights.json` naming `x_NNNNN.weights.h5` shards, read as one artifact.

Written by `model.save_weights("x.weights.json", max_shard_size=GB)` (keras/src/saving/saving_lib.py,
`ShardedH5IOStore`) and used by large KerasHub presets. The JSON is
`{"metadata": {"total_size": <bytes, float>}, "weight_map": {"/<container>/vars": shard | [shards]}}`,
keys in save order. Each shard holds the same tree as a single `.weights.h5`, restricted to what it
holds; a container's `vars` group (with its `name` attribute) may sit, empty, in an earlier shard than
its datasets, and one container's variables may span shards. Keras resolves a container through the
map and takes each `vars/<i>` from the first listed shard that has it: so does this reader.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass
from typing import Any

import h5py
import numpy as np

from ckptdiff.artifact import Artifact, Format, Group, LayerRecord, TensorEntry, element_count
from ckptdiff.errors import CorruptArtifact, MissingShard, one_line
from ckptdiff.formats.hdf5 import H5_ERRORS, decode_text, local_child, make_h5_entry, open_hdf5_readonly
from ckptdiff.formats.interface import ArtifactKind, Detection
from ckptdiff.formats.keras3_layout import container_group
from ckptdiff.formats.keras_config import MAX_CONFIG_TEXT
from ckptdiff.integrity import IntegrityProblem, IntegrityReport, ProblemKind, VerifyMethod, read_every_entry
from ckptdiff.storage import Location, as_location

SHARDED_SUFFIX = ".weights.json"
VARS = "vars"
NAME_ATTR = "name"


@dataclass(frozen=True)
class ShardMap:
    """The decoded `.weights.json`."""

    total_size: float | None
    containers: dict[str, tuple[str, ...]]
    """`layers/dense/vars` (no leading slash) -> the shard file names listed for it, in order."""


def read_shard_map(location: Location, display: str) -> ShardMap:
    """Decode and check the map (bounded: it is a few KB even for 10 GB shards).

    Raises:
        CorruptArtifact: not JSON, or not the layout Keras writes.
    """
    try:
        if location.size() > MAX_CONFIG_TEXT:
            raise CorruptArtifact(f"{display}: {location.size():,} bytes is no Keras weight map")
        doc = json.loads(location.read_bytes().decode("utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise CorruptArtifact(f"{display}: not a readable weight map ({one_line(exc)})") from None
    weight_map = doc.get("weight_map") if isinstance(doc, dict) else None
    if not isinstance(weight_map, dict):
        raise CorruptArtifact(f"{display}: no weight_map object: not a Keras sharded weights file")
    containers: dict[str, tuple[str, ...]] = {}
    for key, value in weight_map.items():
        shards = [value] if isinstance(value, str) else value
        if not isinstance(shards, list) or not all(isinstance(s, str) for s in shards):
            raise CorruptArtifact(f"{display}: weight_map[{key!r}] is neither a shard name nor a list of them")
        for shard in shards:
            if "/" in shard or "\\" in shard or shard in ("", ".", ".."):
                raise CorruptArtifact(f"{display}: weight_map names {shard!r}, outside the map's folder")
        containers[str(key).strip("/")] = tuple(shards)
    metadata = doc.get("metadata") if isinstance(doc.get("metadata"), dict) else {}
    total = metadata.get("total_size")
    return ShardMap(float(total) if isinstance(total, (int, float)) else None, containers)


def read_keras_sharded(path: Location | str | os.PathLike[str], display: str) -> Artifact:
    """Open a sharded Keras 3 weights file as one artifact, every shard kept open until closed.

    Raises:
        MissingShard: the map names a shard that is not beside it.
        CorruptArtifact, NotHdf5: the map or a shard is damaged.
    """
    path = as_location(path)
    shard_map = read_shard_map(path, display)
    resources = contextlib.ExitStack()
    try:
        shards = _open_shards(path, shard_map, display, resources)
        entries, records, unreached = _collect(shard_map, shards, display)
    except BaseException:
        resources.close()
        raise
    notes = (
        (
            f"{len(unreached)} of the {len(shard_map.containers)} variable containers the weight map lists are in "
            f"none of their shards ({', '.join(unreached[:3])}{', ...' if len(unreached) > 3 else ''}): Keras' "
            "load_weights cannot restore them; --verify names each",
        )
        if unreached
        else ()
    )
    return Artifact(
        path=display,
        format=Format.KERAS_SHARDED,
        entries=tuple(entries),
        resolved=path.display,
        location=path,
        layers=tuple(records),
        metadata={
            "kind": "sharded-weights",
            "shards": sorted(shards),
            "total_size": shard_map.total_size,
            "containers": len(shard_map.containers),
        },
        notes=notes,
        resources=resources,
    )


def _open_shards(
    path: Location, shard_map: ShardMap, display: str, resources: contextlib.ExitStack
) -> dict[str, h5py.File]:
    opened: dict[str, h5py.File] = {}
    for name in dict.fromkeys(s for shards in shard_map.containers.values() for s in shards):
        shard = path.sibling(name)
        if not shard.is_file():
            raise MissingShard(f"{display}: shard {name}, named by the weight map, is missing")
        h5 = open_hdf5_readonly(shard, f"{display}: shard {name}")
        resources.callback(h5.close)
        opened[name] = h5
    return opened


def _vars_group(h5: h5py.File, container: str) -> h5py.Group | None:
    node: Any = h5
    for part in container.split("/"):
        node = local_child(node, part) if isinstance(node, h5py.Group) else None
        if node is None:
            return None
    return node if isinstance(node, h5py.Group) else None


def _collect(
    shard_map: ShardMap, shards: dict[str, h5py.File], display: str
) -> tuple[list[TensorEntry], list[LayerRecord], list[str]]:
    """The entries and layer records of every container the map lists, and the containers none of their shards
    can reach (damage, or a map that disagrees with its shards)."""
    entries: list[TensorEntry] = []
    records: list[LayerRecord] = []
    unreached: list[str] = []
    try:
        for vars_path, names in shard_map.containers.items():
            container = vars_path.removesuffix(f"/{VARS}") if vars_path != VARS else ""
            layer_name = _layer_name(vars_path, shards, display)
            found: dict[int, h5py.Dataset] = {}
            groups = [g for name in names if (g := _vars_group(shards[name], vars_path)) is not None]
            if not groups:
                unreached.append(vars_path)
            for group in groups:
                for key in group:
                    if (
                        key.isdigit()
                        and int(key) not in found
                        and isinstance(item := local_child(group, key), h5py.Dataset)
                    ):
                        found[int(key)] = item
            keys = []
            for index in sorted(found):
                dataset = found[index]
                named = (f"{layer_name}/{VARS}/{index}",) if layer_name else ()
                entry = make_h5_entry(dataset, container_group(vars_path), named, display)
                entries.append(
                    TensorEntry(
                        key=f"{vars_path}/{index}",
                        shape=entry.shape,
                        dtype=entry.dtype,
                        group=entry.group,
                        source=entry.source,
                        paths=entry.paths,
                        nbytes=entry.nbytes,
                    )
                )
                keys.append(f"{vars_path}/{index}")
            if container_group(vars_path) == Group.MODEL:
                records.append(LayerRecord(name=container, weight_keys=tuple(keys), layer_name=layer_name))
    except H5_ERRORS as exc:
        raise CorruptArtifact(f"{display}: damaged shard ({one_line(exc)})") from None
    return entries, records, unreached


def _layer_name(vars_path: str, shards: dict[str, h5py.File], display: str) -> str | None:
    """The `name` attribute Keras gave the container's `vars` group, in whichever shard holds it."""
    for h5 in shards.values():
        group = _vars_group(h5, vars_path)
        if group is not None and NAME_ATTR in group.attrs:
            return decode_text(group.attrs[NAME_ATTR], f"attribute name of {vars_path}", display)
    return None


def verify_shards(artifact: Artifact) -> IntegrityReport:
    """The map against the shards, by path: every mapped shard holds the paths mapped to it, no shard
    holds a path the map does not give it, and the sizes add up to `metadata.total_size`; then every
    dataset is read in full."""
    assert artifact.location is not None, "sharded artifacts record their map"
    shard_map = read_shard_map(artifact.location, artifact.path)
    problems: list[IntegrityProblem] = []
    with contextlib.ExitStack() as stack:
        shards = _open_shards(artifact.location, shard_map, artifact.path, stack)
        given: dict[str, set[str]] = {name: set() for name in shards}
        for vars_path, names in shard_map.containers.items():
            for name in names:
                given[name].add(vars_path)
                group = _vars_group(shards[name], vars_path)
                if group is None or not any(k.isdigit() for k in group):
                    problems.append(
                        IntegrityProblem(
                            f"{name}:{vars_path}",
                            ProblemKind.STRUCTURE,
                            f"the weight map lists {name} for {vars_path}, but that shard holds none of its variables",
                        )
                    )
        for name, h5 in shards.items():
            try:
                held_paths = _held_vars_paths(h5)
            except H5_ERRORS as exc:  # a damaged group or heap: h5py's visit stops inside the C library
                problems.append(
                    IntegrityProblem(name, ProblemKind.STRUCTURE, f"its groups cannot be walked ({one_line(exc)})")
                )
                continue
            for held in held_paths:
                if held not in given[name]:
                    problems.append(
                        IntegrityProblem(
                            f"{name}:{held}",
                            ProblemKind.STRUCTURE,
                            f"{name} holds variables of {held}, which the weight map does not give it: "
                            "Keras never reads them",
                        )
                    )
    declared = sum(_declared_bytes(e) for e in artifact.entries)
    if shard_map.total_size is not None and abs(declared - shard_map.total_size) > 0.5:
        problems.append(
            IntegrityProblem(
                "metadata.total_size",
                ProblemKind.STRUCTURE,
                f"the map says {shard_map.total_size:,.0f} bytes, the shards' variables hold {declared:,}",
            )
        )
    checked, read_problems = read_every_entry(artifact, (*H5_ERRORS, TypeError))
    return IntegrityReport(
        artifact.path,
        VerifyMethod.HDF5_READ,
        checked,
        tuple(problems + read_problems),
        ("HDF5 stores no checksum for Keras datasets: every dataset of every shard was read in full",),
    )


def _declared_bytes(entry: TensorEntry) -> int:
    """What Keras adds to total_size for a variable: its elements times its dtype's size."""
    itemsize = 2 if entry.dtype == "bfloat16" else (np.dtype(entry.dtype).itemsize if entry.dtype != "string" else 0)
    return element_count(entry.shape) * itemsize


def _held_vars_paths(h5: h5py.File) -> set[str]:
    held: set[str] = set()

    def visit(name: str, obj: Any) -> None:
        if isinstance(obj, h5py.Dataset) and "/" in name:
            parent, leaf = name.rsplit("/", 1)
            if leaf.isdigit() and parent.rsplit("/", 1)[-1] == VARS:
                held.add(parent)

    h5.visititems(visit)
    return held


class KerasShardedKind(ArtifactKind):
    """Keras 3 sharded weights (`*.weights.json` and its shards)."""

    name = "keras-sharded"
    scanner_name = "keras-h5"
    formats = (Format.KERAS_SHARDED,)

    def detect(self, location: Location) -> Detection | None:
        if location.is_file() and location.name.endswith(SHARDED_SUFFIX):
            return Detection(self, location)
        return None

    def open(self, location: Location, display: str) -> Artifact:
        return read_keras_sharded(location, display)

    def loader(self, artifact: Artifact) -> str:
        return "keras3"

    def verify(self, artifact: Artifact) -> IntegrityReport:
        return verify_shards(artifact)


KIND = KerasShardedKind()
