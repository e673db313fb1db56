"""find_code_in_config: what in a Keras model config (JSON data) would run code when deserialised."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any, Iterator

LAMBDA_CLASSES = frozenset({"Lambda"})
RAW_OP_WRAPPERS = frozenset({"TFOpLambda", "SlicingOpLambda", "TFClassMethodDispatcher", "ClassMethod", "InstanceMethod", "InstanceProperty"})
SAFE_MODULE_PREFIXES = ("keras", "tf_keras", "builtins")
"""Modules a config may name without that being code from elsewhere (Keras' own namespaces)."""


@dataclass(frozen=True)
class ConfigDanger:
    """One place in a config that would execute code or import code from outside Keras."""

    severity: str
    """`high` (code runs on load) or `medium` (code must be supplied by the loader's environment)."""
    kind: str
    """`lambda`, `raw-op`, `foreign-module`, `custom-object`."""
    location: str
    """JSON path to the item, e.g. `config.layers[2]`."""
    detail: str


def _walk(node: Any, where: str) -> Iterator[tuple[str, dict]]:
    if isinstance(node, dict):
        yield where, node
        for key, value in node.items():
            yield from _walk(value, f"{where}.{key}" if where else str(key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _walk(value, f"{where}[{i}]")


def _marshalled_size(function: Any) -> int | None:
    """Bytes of marshalled code a Lambda carries (Keras 2: [b64, defaults, closure]; Keras 3: {config: {code}})."""
    code = None
    if isinstance(function, (list, tuple)) and function and isinstance(function[0], str):
        code = function[0]
    elif isinstance(function, dict):
        inner = function.get("config")
        if isinstance(inner, dict) and isinstance(inner.get("code"), str):
            code = inner["code"]
    elif isinstance(function, str):
        code = function
    if code is None:
        return None
    try:
        return len(base64.b64decode(code.encode("ascii"), validate=False))
    except (binascii.Error, ValueError, UnicodeEncodeError):
        return len(code)


def find_code_in_config(config: Any) -> list[ConfigDanger]:
    """List every item of a Keras config that executes or imports code when the config is deserialised.

    Args:
        config: the parsed JSON (model_config of a legacy H5, config.json of a .keras).

    Returns:
        The dangers, in document order; empty when the config only names Keras' own classes.
    """
    dangers: list[ConfigDanger] = []
    for where, node in _walk(config, ""):
        cls = node.get("class_name")
        inner = node.get("config") if isinstance(node.get("config"), dict) else {}
        label = f"{cls} layer {inner.get('name')!r}" if inner.get("name") else f"{cls}"
        if cls in LAMBDA_CLASSES:
            size = _marshalled_size(inner.get("function"))
            code = f"marshalled Python bytecode, {size} bytes" if size is not None else "a named Python function"
            dangers.append(ConfigDanger("high", "lambda", where or "<root>", f"{label} carries {code}"))
        elif cls in RAW_OP_WRAPPERS:
            fn = inner.get("function") or inner.get("method_name") or "?"
            dangers.append(ConfigDanger("medium", "raw-op", where or "<root>", f"{label} wraps the raw op {fn}"))
        elif cls == "__lambda__":
            dangers.append(ConfigDanger("high", "lambda", where, "a serialised Python lambda"))
        module = node.get("module")
        if isinstance(module, str) and module and not module.startswith(SAFE_MODULE_PREFIXES):
            dangers.append(ConfigDanger("high", "foreign-module", where or "<root>", f"names module {module!r} ({label})"))
        registered = node.get("registered_name")
        if isinstance(registered, str) and ">" in registered:
            dangers.append(ConfigDanger("medium", "custom-object", where or "<root>", f"custom object {registered!r}"))
    return dangers
