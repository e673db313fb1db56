"""Orbax checkpoints: `keras.callbacks.OrbaxCheckpoint` and JAX users' `CheckpointManager` step directories.

A checkpoint root holds one directory per step (`0/`, `1/`, ...), each with `_CHECKPOINT_METADATA`
(the handler of every checkpointable) and one folder per checkpointable (`pytree`, `model_config`;
`state`, `config`; `default`). An array checkpointable has `_METADATA` (its tree: every leaf's key
path and value type) and an OCDBT database of zarr (v2 or v3) arrays, one per leaf, named by the
tree path joined with `.`. Shapes and dtypes are in each array's zarr metadata, which tensorstore
reads at open without reading data. String leaves (`_strings.json`) and JSON checkpointables hold no
arrays and are named in a note. docs/formats-research.md, section 5, has the layout as observed.

Read with tensorstore only: no JAX, Orbax, Keras or TensorFlow import, nothing deserialised but JSON
and zarr metadata. tensorstore is an extra (`pip install 'ckptdiff[orbax]'`).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from ckptdiff.artifact import DEFAULT_CHUNK_ELEMENTS, Artifact, Format, Group, TensorEntry, element_count
from ckptdiff.errors import BadOption, CorruptArtifact, MissingDependency, UnreadableArtifact, one_line
from ckptdiff.formats.interface import ArtifactKind, Detection
from ckptdiff.formats.keras_config import read_json_file
from ckptdiff.integrity import IntegrityReport
from ckptdiff.storage import Location

STEP_METADATA = "_CHECKPOINT_METADATA"
TREE_METADATA = "_METADATA"
STRINGS_FILE = "_strings.json"
ARRAY_VALUE_TYPES = ("np.ndarray", "jax.Array", "scalar")
KERAS_STATE_KEYS = ("trainable_variables", "non_trainable_variables", "optimizer_variables", "metrics_variables")
"""Top-level keys of `Model.get_state_tree()`; below them the tree is each variable's path split on `/`."""
KERAS_ITEM = "pytree"
"""The checkpointable keras.callbacks.OrbaxCheckpoint writes `Model.get_state_tree()` to."""
OPTIMIZER_KEYS = ("optimizer_variables", "opt_state")
BOOKKEEPING_KEYS = ("metrics_variables", "step")


def _tensorstore() -> Any:
    try:
        import tensorstore
    except ImportError:
        raise MissingDependency("reading Orbax checkpoints needs tensorstore: pip install 'ckptdiff[orbax]'") from None
    return tensorstore


def _is_step(location: Location) -> bool:
    return location.is_dir() and location.child(STEP_METADATA).is_file()


def _steps(root: Location) -> list[Location]:
    """The root's step directories, newest (highest number) first."""
    found = [c for c in root.iterdir() if c.name.isdigit() and _is_step(c)]
    return sorted(found, key=lambda c: int(c.name), reverse=True)


@dataclass(frozen=True)
class TensorstoreSource:
    """One zarr array of an OCDBT database, opened by tensorstore on each read."""

    spec: dict[str, Any]
    shape: tuple[int, ...]

    def _open(self) -> Any:
        return _tensorstore().open(self.spec, open=True, read=True).result()

    def _fetch(self, store: Any) -> np.ndarray:
        try:
            return np.asarray(store.read().result())
        except Exception as exc:  # tensorstore reports damage (CRC-32C, zstd) as ValueError and its own errors
            raise CorruptArtifact(f"{self.spec['path']}: tensorstore cannot read it ({_brief(exc)})") from None

    def read(self) -> np.ndarray:
        return self._fetch(self._open()).reshape(self.shape)

    def iter_chunks(self, max_elements: int = DEFAULT_CHUNK_ELEMENTS) -> Iterator[np.ndarray]:
        """Row blocks of the first axis, so a large array is never read whole."""
        if not self.shape or element_count(self.shape) <= max_elements:
            flat = self.read().reshape(-1)
            for start in range(0, flat.size, max_elements):
                yield flat[start : start + max_elements]
            return
        store = self._open()
        row = element_count(self.shape[1:])
        rows = max(1, max_elements // max(row, 1))
        for lo in range(0, self.shape[0], rows):
            flat = self._fetch(store[lo : min(lo + rows, self.shape[0])]).reshape(-1)
            for start in range(0, flat.size, max_elements):
                yield flat[start : start + max_elements]


def _brief(exc: BaseException) -> str:
    """tensorstore's message without the spec it appends (`[tensorstore_spec='{...}']`)."""
    return one_line(exc).split(" [tensorstore_spec=", 1)[0]


def _group(tree_path: tuple[str, ...]) -> Group:
    if tree_path[0] in OPTIMIZER_KEYS:
        return Group.OPTIMIZER
    if tree_path[0] in BOOKKEEPING_KEYS:
        return Group.BOOKKEEPING
    return Group.MODEL


def _model_path(tree_path: tuple[str, ...]) -> str:
    """`mlp/dense/kernel` for a Keras state-tree leaf (the variable's own path), else the tree path with `/`."""
    if tree_path[0] in KERAS_STATE_KEYS and len(tree_path) > 1:
        return "/".join(tree_path[1:])
    return "/".join(tree_path)


def _leaves(tree: Any, item: str, display: str) -> list[tuple[tuple[str, ...], str]]:
    """Every leaf of a `_METADATA` tree: its key path and value type."""
    if not isinstance(tree, dict) or not isinstance(tree.get("tree_metadata"), dict):
        raise CorruptArtifact(f"{display}: {item}/{TREE_METADATA} has no tree_metadata: not an Orbax pytree")
    leaves = []
    for name, leaf in tree["tree_metadata"].items():
        keys = leaf.get("key_metadata") if isinstance(leaf, dict) else None
        value = leaf.get("value_metadata") if isinstance(leaf, dict) else None
        if not isinstance(keys, list) or not keys or not all(isinstance(k, dict) for k in keys):
            raise CorruptArtifact(f"{display}: {item}/{TREE_METADATA}: leaf {name!r} has no key_metadata")
        path = tuple(str(k.get("key")) for k in keys)
        value_type = value.get("value_type") if isinstance(value, dict) else None
        leaves.append((path, str(value_type)))
    return leaves


def tensorstore_kvstore(folder: Location, display: str) -> dict[str, Any]:
    """The tensorstore kvstore spec of a folder: file, s3, gcs or http, read-only (tensorstore does its own I/O).

    S3 endpoints and regions come from the same environment s3fs uses (AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL,
    AWS_DEFAULT_REGION / AWS_REGION) or from `--storage-option client_kwargs.endpoint_url=...`.
    """
    local = folder.local_path
    if local is not None:
        return {"driver": "file", "path": f"{local.resolve()}/"}
    url = folder.display.rstrip("/")
    scheme, _, rest = url.partition("://")
    bucket, _, key = rest.partition("/")
    if scheme in ("http", "https"):
        return {"driver": "http", "base_url": url + "/"}
    if scheme in ("gs", "gcs"):
        return {"driver": "gcs", "bucket": bucket, "path": key + "/"}
    if scheme in ("s3", "s3a"):
        from ckptdiff.storage.remote import storage_options

        options = storage_options()
        found = options.get("client_kwargs")
        client: dict[str, Any] = found if isinstance(found, dict) else {}
        endpoint = (
            options.get("endpoint_url")
            or client.get("endpoint_url")
            or os.environ.get("AWS_ENDPOINT_URL_S3")
            or os.environ.get("AWS_ENDPOINT_URL")
        )
        spec: dict[str, Any] = {"driver": "s3", "bucket": bucket, "path": key + "/"}
        region = client.get("region_name") or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
        spec["aws_region"] = region or "us-east-1"
        if endpoint:
            spec["endpoint"] = endpoint
        return spec
    raise UnreadableArtifact(
        f"{display}: Orbax arrays are read by tensorstore, which reads file, s3, gs and https only"
    )


def _open_item(item_dir: Location, display: str, entries: list[TensorEntry], notes: list[str]) -> None:
    item = item_dir.name
    tree = read_json_file(item_dir.child(TREE_METADATA), display)
    base = tensorstore_kvstore(item_dir, display)
    ts = _tensorstore()
    driver = "zarr3" if tree.get("use_zarr3") else "zarr"
    skipped: list[str] = []
    for tree_path, value_type in _leaves(tree, item, display):
        name = ".".join(tree_path)
        if value_type not in ARRAY_VALUE_TYPES:
            skipped.append(f"{name} ({value_type})")
            continue
        spec = {
            "driver": driver,
            "kvstore": {"driver": "ocdbt", "base": base},
            "path": name,
        }
        try:
            store = ts.open(spec, open=True, read=True).result()
        except Exception as exc:  # tensorstore raises ValueError and its own errors
            raise CorruptArtifact(f"{display}: {item}/{name}: tensorstore cannot open it ({_brief(exc)})") from None
        shape = tuple(int(d) for d in store.shape)
        entries.append(
            TensorEntry(
                key=f"{item}/{name}",
                shape=shape,
                dtype=np.dtype(store.dtype.numpy_dtype).name,
                group=_group(tree_path),
                source=TensorstoreSource(spec, shape),
                paths=tuple(dict.fromkeys((_model_path(tree_path), "/".join(tree_path)))),
            )
        )
    if skipped:
        notes.append(f"{item}: {len(skipped)} leaf(s) hold no array and are not compared: {', '.join(skipped[:5])}")


def read_orbax_step(step: Location, display: str) -> Artifact:
    """Open one Orbax step directory: every array leaf of every checkpointable, by tensorstore.

    Raises:
        MissingDependency: tensorstore is not installed.
        CorruptArtifact: the metadata is not JSON, or an array cannot be opened.
    """
    meta = read_json_file(step.child(STEP_METADATA), display)
    handlers = meta.get("item_handlers") if isinstance(meta, dict) else None
    entries: list[TensorEntry] = []
    notes: list[str] = []
    items = sorted((c for c in step.iterdir() if c.is_dir()), key=lambda c: c.name)
    present = {c.name for c in items}
    for name in sorted(handlers) if isinstance(handlers, dict) else ():
        if name not in present:
            raise CorruptArtifact(
                f"{display}: checkpointable '{name}', which {STEP_METADATA} lists, is missing (Orbax cannot restore it)"
            )
    for item_dir in items:
        handler = handlers.get(item_dir.name) if isinstance(handlers, dict) else None
        has_tree = item_dir.child(TREE_METADATA).is_file()
        if has_tree and not item_dir.child(STRINGS_FILE).is_file():
            _open_item(item_dir, display, entries, notes)
        elif not has_tree and (_array_handler(handler) or _holds_arrays(item_dir)):
            raise CorruptArtifact(
                f"{display}: checkpointable '{item_dir.name}' holds arrays but no {TREE_METADATA} (its tree): "
                "Orbax cannot restore it"
            )
        else:
            notes.append(f"{item_dir.name}: no arrays (JSON or string leaves), not compared")
    return Artifact(
        path=display,
        format=Format.ORBAX,
        entries=tuple(entries),
        resolved=step.display,
        location=step,
        metadata={
            "kind": "orbax-step",
            "step": step.name,
            "checkpointables": [c.name for c in items],
            "handlers": handlers if isinstance(handlers, dict) else {},
        },
        notes=tuple(notes),
    )


ARRAY_HANDLERS = ("PyTreeHandler", "PyTreeCheckpointHandler", "StandardCheckpointHandler")
"""Handlers (the last part of the names `_CHECKPOINT_METADATA` records) that write a tree of arrays."""
OCDBT_MARKERS = ("manifest.ocdbt", "ocdbt.process_0", "d")


def _array_handler(handler: object) -> bool:
    return isinstance(handler, str) and handler.rsplit(".", 1)[-1] in ARRAY_HANDLERS


def _holds_arrays(item_dir: Location) -> bool:
    return any(item_dir.child(m).exists() for m in OCDBT_MARKERS)


class OrbaxKind(ArtifactKind):
    name = "orbax"
    formats = (Format.ORBAX,)

    def verify(self, artifact: Artifact) -> IntegrityReport:
        """Every array read in full through tensorstore; Orbax's zarr chunks carry no checksum, so that is all."""
        report = super().verify(artifact)
        note = (
            "Orbax stores no checksum for its arrays (zarr chunks, no checksum codec): every array was read in "
            "full, and damage that still decodes is not detected"
        )
        return replace(report, notes=(*report.notes, note))

    def detect(self, location: Location) -> Detection | None:
        if _is_step(location):
            return Detection(self, location)
        if not location.is_dir():
            return None
        steps = _steps(location)
        if not steps:
            return None
        others = ", ".join(s.name for s in steps[1:4]) + (", ..." if len(steps) > 4 else "")
        note = f"Orbax root: step {steps[0].name}, the latest" + (f" (also {others})" if others else "")
        return Detection(self, steps[0], (note,))

    def open(self, location: Location, display: str) -> Artifact:
        return read_orbax_step(location, display)

    def loader(self, artifact: Artifact) -> str:
        if not any(e.key.startswith(f"{KERAS_ITEM}/") for e in artifact.entries):
            raise BadOption(
                f"{artifact.path}: no '{KERAS_ITEM}' checkpointable, so not written by "
                "keras.callbacks.OrbaxCheckpoint; check emulates Keras 3's load_weights only: "
                "use inspect, diff or --verify"
            )
        return "keras3-orbax"


KIND = OrbaxKind()
