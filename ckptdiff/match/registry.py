"""The registry of loader emulators: one per real loader, each behind the LoaderEmulator interface."""

from __future__ import annotations

from ckptdiff.match.by_name import ByNameLoader
from ckptdiff.match.h5_layers import H5NameLoader, H5OrderLoader
from ckptdiff.match.interface import LoaderEmulator
from ckptdiff.match.keras3 import Keras3Loader
from ckptdiff.match.object_graph import ObjectGraphLoader
from ckptdiff.match.orbax_state import Keras3OrbaxLoader
from ckptdiff.match.tf_keras import TfKerasLoader

EMULATORS: dict[str, LoaderEmulator] = {
    e.name: e
    for e in (
        ObjectGraphLoader(),
        ByNameLoader(),
        H5OrderLoader(),
        H5NameLoader(),
        Keras3Loader(),
        Keras3OrbaxLoader(),
        TfKerasLoader(),
    )
}
"""Every emulator by the loader name `--loader` takes."""

__all__ = ["EMULATORS"]
