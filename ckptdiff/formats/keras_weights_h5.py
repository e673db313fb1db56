"""Keras 3 `.weights.h5` files (`model.save_weights("x.weights.h5")`): the container layout, read with h5py.

The layout and its conventions are described in keras3_layout.
"""

from __future__ import annotations

import contextlib
import os

import h5py

from ckptdiff.artifact import Artifact, Format
from ckptdiff.errors import UnreadableArtifact
from ckptdiff.formats.hdf5 import (
    is_hdf5,
    read_hdf5_guarded,
)
from ckptdiff.formats.interface import Detection
from ckptdiff.formats.keras3_layout import KERAS3_ROOT_GROUPS, VARS_GROUP, read_keras3_layout
from ckptdiff.formats.keras_h5 import LAYER_NAMES_ATTR, MODEL_WEIGHTS_GROUP, KerasH5Kind
from ckptdiff.storage import Location, as_location


def is_keras3_weights_file(path: Location | str | os.PathLike[str]) -> bool:
    """Tell a Keras 3 `.weights.h5` layout from a legacy Keras H5 file, cheaply; never raises.

    Args:
        path: any file.

    Returns:
        True when the file is HDF5 without the legacy markers (`layer_names`, `model_weights`) and has
        a Keras 3 root group (`layers`, `vars`, `optimizer`, `_layer_checkpoint_dependencies`) or, for
        subclassed models, a `vars` group somewhere.
    """
    path = as_location(path)
    try:
        with h5py.File(path.local_path or path.open_binary(), "r") as h5:
            if any(str(name).startswith(LAYER_NAMES_ATTR) for name in h5.attrs):
                return False
            if MODEL_WEIGHTS_GROUP in h5:
                return False
            if any(name in h5 for name in KERAS3_ROOT_GROUPS):
                return True
            return h5.visit(lambda name: True if name.rsplit("/", 1)[-1] == VARS_GROUP else None) is True
    except Exception:
        return False


def read_keras_weights_h5(path: Location | str | os.PathLike[str], display: str) -> Artifact:
    """Read a Keras 3 `.weights.h5` file (`model.save_weights`) without loading it into Keras.

    Args:
        path: the file.
        display: the path as the user gave it.

    Returns:
        The artifact (format `keras-weights-h5`); it keeps the HDF5 file open until closed.

    Raises:
        NotHdf5: the file is not HDF5.
        CorruptArtifact: h5py cannot read it, or an attribute has the wrong type.
    """
    path = as_location(path)

    def read(h5: h5py.File, resources: contextlib.ExitStack) -> Artifact:
        layout = read_keras3_layout(h5, display, config=None)
        return Artifact(
            path=display,
            format=Format.KERAS_WEIGHTS_H5,
            entries=layout.entries,
            resolved=path.display,
            location=path,
            layers=layout.layers,
            metadata={"kind": "weights-only", **layout.metadata()},
            notes=layout.notes,
            resources=resources,
        )

    return read_hdf5_guarded(path, display, read)


class KerasWeightsH5Kind(KerasH5Kind):
    """Keras 3 `.weights.h5` files (HDF5 without the legacy markers, with Keras 3 containers).

    Verified and scanned as every Keras HDF5 file is (KerasH5Kind): datasets read in full, and any
    config attribute someone added to the weights scanned.
    """

    name = "keras-weights-h5"
    scanner_name = "keras-h5"
    formats = (Format.KERAS_WEIGHTS_H5,)

    def detect(self, location: Location) -> Detection | None:
        if location.is_file() and is_hdf5(location) and is_keras3_weights_file(location):
            return Detection(self, location)
        return None

    def refuse(self, location: Location) -> UnreadableArtifact | None:
        return None

    def open(self, location: Location, display: str) -> Artifact:
        return read_keras_weights_h5(location, display)

    def loader(self, artifact: Artifact) -> str:
        return "keras3"


KIND = KerasWeightsH5Kind()
