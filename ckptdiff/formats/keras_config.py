"""find_code_in_config: what in a Keras model config (JSON data) would run code when deserialised."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ckptdiff.scan.interface import Finding, Severity

LAMBDA_CLASSES = frozenset({"Lambda"})
SERIALISED_LAMBDA_CLASS = "__lambda__"
"""Keras 3 serialises a Python lambda as `{"class_name": "__lambda__", "config": {"code": <base64 marshal>}}`."""
RAW_OP_WRAPPERS = frozenset(
    {"TFOpLambda", "SlicingOpLambda", "TFClassMethodDispatcher", "ClassMethod", "InstanceMethod", "InstanceProperty"}
)
SAFE_MODULES = ("keras", "tf_keras", "builtins")
"""Modules (and their submodules) a config may name without that being code from elsewhere."""
BUILTINS_MODULE = "builtins"
DANGEROUS_BUILTINS = frozenset(
    {
        "exec",
        "eval",
        "compile",
        "open",
        "__import__",
        "getattr",
        "setattr",
        "delattr",
        "globals",
        "locals",
        "vars",
        "input",
        "breakpoint",
        "exit",
        "quit",
        "help",
        "memoryview",
        "print",
        "type",
        "object",
    }
)
"""Python builtins that run, import or reach arbitrary code or files when called (Keras' own builtin
functions, such as activations named `relu`, are looked up in Keras modules, never here)."""
REGISTERED_NAME_SEPARATOR = ">"
"""`register_keras_serializable(package="p")` names an object `p>Name`: code the loader must import."""
KERAS_OWN_REGISTERED_NAMES = frozenset(
    f"Custom>{name}"
    for name in (
        "Adadelta",
        "Adafactor",
        "Adagrad",
        "Adam",
        "AdamW",
        "Adamax",
        "Ftrl",
        "Lion",
        "Nadam",
        "RMSprop",
        "SGD",
    )
)
"""tf_keras registers its own optimizers under the default package (`Custom>Adam` in a training_config)."""


@dataclass(frozen=True)
class ConfigDanger:
    """One place in a config that would execute code or import code from outside Keras."""

    severity: Severity
    """`high` (code runs on load) or `medium` (code must be supplied by the loader's environment)."""
    kind: str
    """`lambda`, `raw-op`, `foreign-module`, `custom-object`."""
    location: str
    """JSON path to the item, e.g. `config.layers[2]`."""
    detail: str


def _walk(node: Any, where: str) -> Iterator[tuple[str, dict]]:
    """Every dict of a JSON document with its path, in document order, without recursion limits."""
    stack: list[tuple[Any, str]] = [(node, where)]
    while stack:
        item, path = stack.pop()
        if isinstance(item, dict):
            yield path, item
            children = [(v, f"{path}.{k}" if path else str(k)) for k, v in item.items()]
        elif isinstance(item, list):
            children = [(v, f"{path}[{i}]") for i, v in enumerate(item)]
        else:
            continue
        stack.extend(reversed(children))


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


def _is_safe_module(module: str) -> bool:
    return any(module == safe or module.startswith(safe + ".") for safe in SAFE_MODULES)


def _label(cls: Any, inner: dict) -> str:
    name = inner.get("name")
    return f"{cls} layer {name!r}" if isinstance(name, str) and name else f"{cls}"


def _lambda_danger(where: str, cls: str, inner: dict) -> ConfigDanger:
    function = inner.get("function")
    function_type = inner.get("function_type")
    size = _marshalled_size(function)
    if function_type == "raw" or (isinstance(function, dict) and function.get("class_name") == "function"):
        name = function.get("config") if isinstance(function, dict) else function
        module = (
            inner.get("module") if function_type == "raw" or not isinstance(function, dict) else function.get("module")
        )
        code = f"the Python function {name!r} of module {module!r}, imported on load"
    elif size is not None:
        code = f"marshalled Python bytecode, {size} bytes"
    else:
        code = "a Python function"
    return ConfigDanger(Severity.HIGH, "lambda", where or "<root>", f"{_label(cls, inner)} carries {code}")


def find_code_in_config(config: Any) -> list[ConfigDanger]:
    """List every item of a Keras config that executes or imports code when the config is deserialised.

    Args:
        config: the parsed JSON (model_config of a legacy H5, config.json of a .keras).

    Returns:
        The dangers, in document order; empty when the config only names Keras' own classes.
    """
    dangers: list[ConfigDanger] = []
    lambdas: list[str] = []
    for where, node in _walk(config, ""):
        inside_lambda = any(where.startswith(f"{loc}.config" if loc else "config") for loc in lambdas)
        cls = node.get("class_name")
        raw_inner = node.get("config")
        inner: dict[str, Any] = raw_inner if isinstance(raw_inner, dict) else {}
        if cls in LAMBDA_CLASSES:
            dangers.append(_lambda_danger(where, cls, inner))
            lambdas.append(where)
            continue
        if inside_lambda:
            continue  # the Lambda's function, its module and its closure are part of that one finding
        if cls in RAW_OP_WRAPPERS:
            fn = inner.get("function") or inner.get("method_name") or "?"
            dangers.append(
                ConfigDanger(
                    Severity.MEDIUM, "raw-op", where or "<root>", f"{_label(cls, inner)} wraps the raw op {fn}"
                )
            )
        elif cls == SERIALISED_LAMBDA_CLASS:
            size = _marshalled_size(node)
            carried = f", {size} bytes of marshalled bytecode" if size is not None else ""
            dangers.append(
                ConfigDanger(Severity.HIGH, "lambda", where or "<root>", f"a serialised Python lambda{carried}")
            )
        module = node.get("module")
        if isinstance(module, str) and module and not _is_safe_module(module):
            named = cls if cls != "function" else node.get("config")
            dangers.append(
                ConfigDanger(
                    Severity.HIGH,
                    "foreign-module",
                    where or "<root>",
                    f"names {named!r} of module {module!r}, imported on load",
                )
            )
        elif module == BUILTINS_MODULE and _builtin_name(node) in DANGEROUS_BUILTINS:
            dangers.append(
                ConfigDanger(
                    Severity.HIGH,
                    "foreign-module",
                    where or "<root>",
                    f"names the Python builtin {_builtin_name(node)!r}",
                )
            )
        if isinstance(cls, str) and REGISTERED_NAME_SEPARATOR in cls and cls not in KERAS_OWN_REGISTERED_NAMES:
            dangers.append(ConfigDanger(Severity.MEDIUM, "custom-object", where or "<root>", f"custom object {cls!r}"))
        else:
            registered = node.get("registered_name")
            if (
                isinstance(registered, str)
                and REGISTERED_NAME_SEPARATOR in registered
                and registered not in KERAS_OWN_REGISTERED_NAMES
            ):
                dangers.append(
                    ConfigDanger(Severity.MEDIUM, "custom-object", where or "<root>", f"custom object {registered!r}")
                )
    return dangers


def _builtin_name(node: dict) -> str | None:
    """The builtin a `builtins` item names: its class, or for a function its config string."""
    cls = node.get("class_name")
    if cls == "function" and isinstance(node.get("config"), str):
        return node["config"]
    return cls if isinstance(cls, str) else None


def config_findings(config: Any, source: str) -> list[Finding]:
    """Scan findings for a config found in `source` (a root attribute, `config.json`)."""
    return [Finding(d.severity, d.kind, f"{source}: {d.location}", d.detail) for d in find_code_in_config(config)]
