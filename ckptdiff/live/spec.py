"""load_live_model: resolve a --model SPEC (factory or stored architecture) into a LiveModel.

A factory (`file.py:name` or `package.module:name`) is the user's own code and is run. A
`.keras` archive or legacy `.h5` given as SPEC contributes only its architecture: the JSON
config is screened for anything that would execute code, then rebuilt by Keras in safe mode with
fresh initial values; its weights are never loaded.
"""

from __future__ import annotations

import copy
import importlib
import importlib.util
import json
import sys
import zipfile
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from ckptdiff.errors import BadModelSpec, UnsafeArtifact
from ckptdiff.formats.keras_config import find_code_in_config
from ckptdiff.live.describe import describe_live_model
from ckptdiff.live.model import LiveModel
from ckptdiff.tf_import import import_tensorflow, native_stderr_silenced, stdout_captured


def load_live_model(spec: str) -> LiveModel:
    """Build the live model a SPEC names and describe it.

    Args:
        spec: `path/to/file.py:factory`, `package.module:factory`, a `.keras` archive or a legacy `.h5`.

    Returns:
        The described live model.

    Raises:
        BadModelSpec: the SPEC cannot be resolved, the factory fails or returns something else.
        UnsafeArtifact: the stored architecture needs code to rebuild.
    """
    with native_stderr_silenced(), stdout_captured() as printed:
        if spec.endswith((".keras", ".h5", ".hdf5")) and ":" not in Path(spec).name:
            obj, notes = _rebuild_from_artifact(Path(spec))
        else:
            obj, notes = _call_factory(spec)
        live = describe_live_model(obj, spec, notes)
    return replace(live, printed=printed.getvalue())


def _call_factory(spec: str) -> tuple[Any, tuple[str, ...]]:
    target, sep, attr = spec.rpartition(":")
    if not sep or not target or not attr:
        raise BadModelSpec(f"--model {spec!r}: expected FILE.py:FACTORY, package.module:FACTORY, a .keras or an .h5")
    import_tensorflow()
    module = _import_target(target, spec)
    factory = getattr(module, attr, None)
    if not callable(factory):
        raise BadModelSpec(f"--model {spec!r}: {target} has no callable {attr!r}{_callables_hint(module, attr)}")
    try:
        obj = factory()
    except Exception as exc:
        raise BadModelSpec(f"--model {spec!r}: the factory raised {type(exc).__name__}: {exc}") from None
    return _build_if_needed(obj, spec)


def _callables_hint(module: Any, wanted: str) -> str:
    """`; it defines: a, b, ...` with the names closest to the wanted one first."""
    import difflib
    import inspect

    own = [
        name
        for name, value in vars(module).items()
        if not name.startswith("_")
        and (inspect.isfunction(value) or inspect.isclass(value))
        and getattr(value, "__module__", None) == module.__name__
    ]
    if not own:
        return "; it defines no function or class of its own"
    close = difflib.get_close_matches(wanted, own, n=len(own), cutoff=0.4)
    ordered = close + sorted(n for n in own if n not in close)
    shown = ", ".join(ordered[:8]) + (", ..." if len(ordered) > 8 else "")
    return f"; it defines: {shown}"


def _import_target(target: str, spec: str) -> Any:
    if target.endswith(".py"):
        path = Path(target)
        if not path.is_file():
            raise BadModelSpec(f"--model {spec!r}: no such file {target}")
        name = f"ckptdiff_model_{abs(hash(str(path.resolve())))}"
        module_spec = importlib.util.spec_from_file_location(name, path)
        if module_spec is None or module_spec.loader is None:
            raise BadModelSpec(f"--model {spec!r}: cannot import {target}")
        module = importlib.util.module_from_spec(module_spec)
        sys.path.insert(0, str(path.resolve().parent))
        try:
            module_spec.loader.exec_module(module)
        except Exception as exc:
            raise BadModelSpec(f"--model {spec!r}: importing {target} raised {type(exc).__name__}: {exc}") from None
        finally:
            sys.path.remove(str(path.resolve().parent))
        return module
    try:
        return importlib.import_module(target)
    except Exception as exc:
        raise BadModelSpec(f"--model {spec!r}: cannot import {target} ({type(exc).__name__}: {exc})") from None


def _build_if_needed(obj: Any, spec: str) -> tuple[Any, tuple[str, ...]]:
    """Keras models built lazily get built here when their config knows the input shape."""
    built = getattr(obj, "built", True)
    if built:
        return obj, ()
    build_config = getattr(obj, "get_build_config", lambda: None)()
    shape = (build_config or {}).get("input_shape")
    if shape is None:
        raise BadModelSpec(
            f"--model {spec!r}: the model is not built and gives no input shape; build it in the factory "
            "(call it on an input or use keras.Input)"
        )
    obj.build(shape)
    return obj, (f"built the model with input shape {shape}",)


def _rebuild_from_artifact(path: Path) -> tuple[Any, tuple[str, ...]]:
    if not path.is_file():
        raise BadModelSpec(f"--model {path}: no such file")
    if path.name.endswith(".keras"):
        config, keras_version = _archive_config(path)
    else:
        config, keras_version = _h5_config(path)
    dangers = find_code_in_config(config)
    if dangers:
        first = dangers[0]
        raise UnsafeArtifact(
            f"--model {path}: refusing to rebuild an architecture that needs code: {first.detail} "
            f"at {first.location} ({len(dangers)} such item(s); see `ckptdiff scan {path}`)"
        )
    import_tensorflow()
    if keras_version.startswith("2") and path.name.endswith((".h5", ".hdf5")):
        try:
            import tf_keras
        except ImportError:
            raise BadModelSpec(
                f"--model {path}: written by Keras {keras_version}; install tf_keras (pip install 'ckptdiff[keras2]')"
            ) from None
        rebuild: Callable[[], Any] = lambda: tf_keras.models.model_from_config(config)
        notes = (f"architecture rebuilt with tf_keras from the config of {path} (fresh initial values)",)
    else:
        import keras

        if path.name.endswith(".keras"):
            rebuild = lambda: keras.saving.deserialize_keras_object(copy.deepcopy(config), safe_mode=True)
        else:
            # What keras.models.load_model does for a legacy H5 (the config was screened above).
            from keras.src.legacy.saving import saving_utils

            rebuild = lambda: saving_utils.model_from_config(copy.deepcopy(config))
        notes = (f"architecture rebuilt with Keras 3 safe mode from the config of {path} (fresh initial values)",)
    try:
        model = rebuild()
    except Exception as exc:
        raise BadModelSpec(
            f"--model {path}: Keras cannot rebuild this architecture ({type(exc).__name__}: {_first_line(exc)})"
        ) from None
    model, build_notes = _build_if_needed(model, str(path))
    return model, notes + build_notes


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else ""


def _archive_config(path: Path) -> tuple[dict, str]:
    try:
        with zipfile.ZipFile(path) as z:
            config = json.loads(z.read("config.json"))
            try:
                metadata = json.loads(z.read("metadata.json"))
            except KeyError:
                metadata = {}
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise BadModelSpec(f"--model {path}: not a readable .keras archive ({exc})") from None
    return config, str(metadata.get("keras_version", "3"))


def _h5_config(path: Path) -> tuple[dict, str]:
    from ckptdiff.errors import UnreadableArtifact
    from ckptdiff.formats.hdf5 import open_hdf5_readonly
    from ckptdiff.storage import locate

    try:
        # The reader's opener refuses damaged heaps first (HDF5 1.14 can loop forever on one).
        with open_hdf5_readonly(locate(path), f"--model {path}") as f:
            raw = f.attrs.get("model_config")
            version = f.attrs.get("keras_version", b"2")
    except (OSError, UnreadableArtifact) as exc:
        raise BadModelSpec(str(exc)) from None
    if raw is None:
        raise BadModelSpec(f"--model {path}: a weights-only H5 has no architecture; pass a factory instead")
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8")
    if isinstance(version, bytes):
        version = version.decode("utf-8")
    try:
        return json.loads(raw), str(version)
    except ValueError as exc:
        raise BadModelSpec(f"--model {path}: model_config is not JSON ({exc})") from None
