"""load_live_model: resolve a --model SPEC (factory or stored architecture) into a LiveModel.

A factory (`file.py:name` or `package.module:name`) is the user's own code and is run. A
`.keras` archive or legacy `.h5` given as SPEC contributes only its architecture: the JSON
config is screened for anything that would execute code, then rebuilt by Keras in safe mode with
fresh initial values; its weights are never loaded.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from ckptdiff.errors import BadModelSpec
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
        if (spec.endswith((".keras", ".h5", ".hdf5")) and ":" not in Path(spec).name) or (
            Path(spec).is_dir() and (Path(spec) / "config.json").is_file()
        ):
            from ckptdiff.live.rebuild import rebuild_from_artifact

            obj, notes = rebuild_from_artifact(Path(spec))
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
    return build_if_needed(obj, spec)


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


def build_if_needed(obj: Any, spec: str) -> tuple[Any, tuple[str, ...]]:
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
