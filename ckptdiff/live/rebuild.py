"""rebuild_from_artifact: a `--model X.keras|X.h5` SPEC, whose stored architecture only is rebuilt, under guard.

Rebuilding runs Keras' deserialiser on a config that came from a file, so three walls stand in front:

1. The config is read as bounded data (size, depth and element caps) and screened by the same rules
   as `scan` (ckptdiff.formats.keras_config): anything that names code, a module outside Keras, a
   non-modeling Keras function, a file or URL (vocabularies, TFSMLayer, get_file) is refused before
   Keras sees it. That is the wall that matters: TensorFlow reads vocabulary files in C++, where no
   Python hook sees the access.
2. Keras' own `SafeModeScope(True)` is entered for the rebuild, for Keras 3 and for tf_keras alike,
   so a Lambda that slipped past the screen still refuses to deserialise.
3. A Python audit hook denies, for the duration of the rebuild, opening any file outside the Python
   installation and any socket connection or process start: what Python code would reach gets an
   exception instead.

A subprocess sandbox (no network namespace, rlimits) was considered and not built: the rebuild needs
the live TensorFlow objects in this process for `check`, a child process would pay TensorFlow's 3 s
import again, and the screen refuses every published technique before Keras runs. See the README's
security section for how the guarantee is tested (strace over every command on the hostile corpus).
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import sys
import sysconfig
import threading
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from ckptdiff.errors import BadModelSpec, UnsafeArtifact, one_line
from ckptdiff.formats.keras_config import MAX_CONFIG_TEXT, ConfigTooLarge, find_code_in_config
from ckptdiff.tf_import import import_tensorflow


def rebuild_from_artifact(path: Path) -> tuple[Any, tuple[str, ...]]:
    """The architecture stored in a `.keras` archive or a legacy `.h5`, rebuilt with fresh values.

    Raises:
        BadModelSpec: the file holds no readable architecture, or Keras cannot rebuild it.
        UnsafeArtifact: the architecture needs code, files or the network to rebuild.
    """
    if path.is_dir():
        text, keras_version = _directory_config(path)
    elif not path.is_file():
        raise BadModelSpec(f"--model {path}: no such file")
    elif path.name.endswith(".keras"):
        text, keras_version = _archive_config(path)
    else:
        text, keras_version = _h5_config(path)
    config = _parse(text, path)
    _screen(config, path)
    import_tensorflow()
    rebuild, notes = _rebuilder(config, keras_version, path)
    try:
        with _guarded():
            model = rebuild()
    except UnsafeArtifact:
        raise
    except (RecursionError, MemoryError) as exc:
        raise UnsafeArtifact(f"--model {path}: rebuilding exhausted {type(exc).__name__}: refused") from None
    except Exception as exc:
        raise BadModelSpec(
            f"--model {path}: Keras cannot rebuild this architecture ({type(exc).__name__}: {one_line(str(exc))})"
        ) from None
    from ckptdiff.live.spec import build_if_needed

    model, build_notes = build_if_needed(model, str(path))
    return model, notes + build_notes


def _parse(text: str, path: Path) -> Any:
    if len(text) > MAX_CONFIG_TEXT:
        raise UnsafeArtifact(f"--model {path}: a {len(text):,}-byte config is no model architecture: refused")
    try:
        return json.loads(text)
    except RecursionError:
        raise UnsafeArtifact(f"--model {path}: the config nests deeper than any model: refused") from None
    except ValueError as exc:
        raise BadModelSpec(f"--model {path}: the config is not JSON ({one_line(str(exc))})") from None


def _screen(config: Any, path: Path) -> None:
    try:
        dangers = find_code_in_config(config)
    except ConfigTooLarge as exc:
        raise UnsafeArtifact(f"--model {path}: the config holds {exc}: refused") from None
    if dangers:
        first = dangers[0]
        technique = f" ({first.technique})" if first.technique else ""
        raise UnsafeArtifact(
            f"--model {path}: refusing to rebuild an architecture that needs code, files or the network: "
            f"{first.detail}{technique} at {first.location} ({len(dangers)} such item(s); see `ckptdiff scan {path}`)"
        )


def _rebuilder(config: Any, keras_version: str, path: Path) -> tuple[Callable[[], Any], tuple[str, ...]]:
    """How the loader a user of that Keras calls rebuilds the architecture: tf_keras for a Keras 2.x file
    (H5 as `model_from_config`, `.keras` as `load_model(compile=False)`), Keras 3 otherwise."""
    keras2 = keras_version.startswith("2")
    if keras2 and path.name.endswith((".h5", ".hdf5", ".keras")):
        rebuild = _tf_keras_rebuilder(config, path)
        if rebuild is not None:
            return rebuild, (
                f"architecture rebuilt with tf_keras in safe mode from the screened config of {path} "
                f"(written by Keras {keras_version}; fresh initial values"
                + (", compile config dropped as load_model(compile=False) does)" if path.suffix == ".keras" else ")"),
            )
        if not path.name.endswith(".keras"):
            raise BadModelSpec(
                f"--model {path}: written by Keras {keras_version}; install tf_keras (pip install 'ckptdiff[keras2]')"
            )
    import keras
    from keras.src.saving.serialization_lib import SafeModeScope

    notes: tuple[str, ...] = ()
    if keras2 and isinstance(config, dict) and "compile_config" in config:
        # Keras 3 cannot compile a Keras 2 optimizer config (`Argument(s) not recognized: {'jit_compile': ...,
        # 'is_legacy_optimizer': ...}`): rebuild as `load_model(..., compile=False)` does.
        config = {k: v for k, v in config.items() if k != "compile_config"}
        notes = (
            f"written by Keras {keras_version} and tf_keras is not installed: rebuilt with Keras 3 without its "
            "compile config, as Keras 3's load_model(..., compile=False) does (pip install 'ckptdiff[keras2]' to "
            "check the tf_keras load)",
        )

    def rebuild_keras3() -> Any:
        with SafeModeScope(True):
            if path.name.endswith(".keras"):
                return keras.saving.deserialize_keras_object(copy.deepcopy(config), safe_mode=True)
            # What keras.models.load_model does for a legacy H5 (the config was screened above).
            from keras.src.legacy.saving import saving_utils

            return saving_utils.model_from_config(copy.deepcopy(config))

    return rebuild_keras3, (
        f"architecture rebuilt with Keras 3 safe mode from the screened config of {path} (fresh initial values)",
        *notes,
    )


def _tf_keras_rebuilder(config: Any, path: Path) -> Callable[[], Any] | None:
    """tf_keras' own rebuild of a Keras 2 config, or None when tf_keras is not installed."""
    try:
        import tf_keras
        from tf_keras.src.saving import serialization_lib as keras2_serialization
    except ImportError:
        return None

    def rebuild_keras2() -> Any:
        with keras2_serialization.SafeModeScope(True):
            if path.name.endswith(".keras"):
                # tf_keras saving_lib.load_model(compile=False): compile_config set to None, then
                # deserialize_keras_object under ObjectSharingScope.
                plain = {**copy.deepcopy(config), "compile_config": None} if isinstance(config, dict) else config
                with keras2_serialization.ObjectSharingScope():
                    return keras2_serialization.deserialize_keras_object(plain, safe_mode=True)
            return tf_keras.models.model_from_config(copy.deepcopy(config))

    return rebuild_keras2


def _archive_config(path: Path) -> tuple[str, str]:
    try:
        with zipfile.ZipFile(path) as z:
            info = z.getinfo("config.json")
            if info.file_size > MAX_CONFIG_TEXT:
                raise UnsafeArtifact(f"--model {path}: config.json declares {info.file_size:,} bytes: refused")
            text = z.read(info).decode("utf-8")
            try:
                metadata = json.loads(z.read("metadata.json"))
            except (KeyError, ValueError, RecursionError):
                metadata = {}
    except (zipfile.BadZipFile, KeyError, ValueError, OSError, EOFError, NotImplementedError) as exc:
        raise BadModelSpec(f"--model {path}: not a readable .keras archive ({one_line(str(exc))})") from None
    version = metadata.get("keras_version", "3") if isinstance(metadata, dict) else "3"
    return text, str(version)


def _directory_config(path: Path) -> tuple[str, str]:
    """An unzipped model directory or a KerasHub preset: its config.json (the backbone, for a preset)."""
    config, meta = path / "config.json", path / "metadata.json"
    try:
        if config.stat().st_size > MAX_CONFIG_TEXT:
            raise UnsafeArtifact(f"--model {path}: config.json is over 16 MiB: refused")
        text = config.read_text(encoding="utf-8")
        metadata = json.loads(meta.read_text(encoding="utf-8")) if meta.is_file() else {}
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise BadModelSpec(f"--model {path}: not a readable model directory ({one_line(str(exc))})") from None
    version = metadata.get("keras_version", "3") if isinstance(metadata, dict) else "3"
    return text, str(version)


def _h5_config(path: Path) -> tuple[str, str]:
    from ckptdiff.errors import UnreadableArtifact
    from ckptdiff.formats.hdf5 import MAX_ATTRIBUTE_BYTES, open_hdf5_readonly
    from ckptdiff.storage import locate

    try:
        # The reader's opener refuses damaged heaps first (HDF5 1.14 can loop forever on one).
        with open_hdf5_readonly(locate(path), f"--model {path}") as f:
            if "model_config" not in f.attrs:
                raise BadModelSpec(f"--model {path}: a weights-only H5 has no architecture; pass a factory instead")
            if int(f.attrs.get_id("model_config").get_storage_size()) > MAX_ATTRIBUTE_BYTES:
                raise UnsafeArtifact(
                    f"--model {path}: a model_config attribute over 16 MiB is no architecture: refused"
                )
            raw = f.attrs.get("model_config")
            version = f.attrs.get("keras_version", b"2")
    except (OSError, UnreadableArtifact) as exc:
        raise BadModelSpec(str(exc)) from None
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    return text, version.decode("utf-8", "replace") if isinstance(version, bytes) else str(version)


# --- the audit-hook wall --------------------------------------------------------------------------

_GUARD = threading.local()
_INSTALLED = False
_DENIED_EVENTS = frozenset(
    {
        "socket.connect",
        "socket.getaddrinfo",
        "subprocess.Popen",
        "os.system",
        "os.exec",
        "os.posix_spawn",
        "os.spawn",
        "os.startfile",
    }
)


def _allowed_roots() -> tuple[str, ...]:
    paths = sysconfig.get_paths()
    roots = {
        sys.prefix,
        sys.base_prefix,
        sys.exec_prefix,
        paths.get("stdlib", ""),
        paths.get("purelib", ""),
        paths.get("platlib", ""),
        os.path.dirname(os.__file__),
        # ckptdiff's own sources: a traceback printed inside the block (an exception some finalizer
        # raised) reads them through linecache. Nothing a config names can point there usefully.
        os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
    }
    return tuple(os.path.realpath(r) + os.sep for r in roots if r)


def _hook(event: str, args: tuple[Any, ...]) -> None:
    if not getattr(_GUARD, "active", False):
        return
    if event in _DENIED_EVENTS:
        raise UnsafeArtifact(f"the rebuild tried {event}: refused")
    if event == "open" and args and isinstance(args[0], (str, bytes, os.PathLike)):
        target = os.path.realpath(os.fsdecode(args[0]))
        if not target.startswith(_GUARD.roots) and target != os.devnull:
            raise UnsafeArtifact(f"the rebuild tried to open {target}: refused")


@contextlib.contextmanager
def _guarded() -> Iterator[None]:
    """Deny file opens outside the Python installation, sockets and processes while the block runs."""
    global _INSTALLED
    if not _INSTALLED:
        sys.addaudithook(_hook)  # audit hooks cannot be removed; the flag below scopes it
        _INSTALLED = True
    _GUARD.roots = _allowed_roots()
    import gc

    gc.collect()  # run pending finalizers (open sockets, sessions) before the block, not inside it
    _GUARD.active = True
    try:
        yield
    finally:
        _GUARD.active = False
