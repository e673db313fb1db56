"""find_code_in_config: what in a Keras model config (JSON data) would run code when deserialised."""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ckptdiff.errors import CorruptArtifact, one_line
from ckptdiff.scanning.interface import Finding, Severity
from ckptdiff.storage import Location

LAMBDA_CLASSES = frozenset({"Lambda"})
SERIALISED_LAMBDA_CLASS = "__lambda__"
"""Keras 3 serialises a Python lambda as `{"class_name": "__lambda__", "config": {"code": <base64 marshal>}}`."""
RAW_OP_WRAPPERS = frozenset(
    {"TFOpLambda", "SlicingOpLambda", "TFClassMethodDispatcher", "ClassMethod", "InstanceMethod", "InstanceProperty"}
)
SAFE_MODULES = ("keras", "tf_keras", "builtins")
LIBRARY_MODULES = ("keras_hub",)
"""Libraries built on Keras whose own classes a config may name: loading needs them installed (info)."""
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
    technique: str = ""
    """The published technique (CVE id) it matches, or ""."""


class ConfigTooLarge(Exception):
    """The config holds more JSON values than any model config (an amplification input)."""


MAX_CONFIG_VALUES = 1_000_000
"""A Keras config of a thousand-layer model holds a few hundred thousand JSON values; past this the
document is an amplification input, not a model."""


def _walk(node: Any, where: str) -> Iterator[tuple[str, dict]]:
    """Every dict of a JSON document with its path, in document order, without recursion.

    Memory stays bounded by the document's nesting, not its size: scalars are counted, never pushed,
    and a path string is built only for a dict that is yielded.

    Raises:
        ConfigTooLarge: the document holds more than MAX_CONFIG_VALUES values.
    """
    stack: list[tuple[Any, str]] = [(node, where)]
    seen = 0
    while stack:
        item, path = stack.pop()
        seen += len(item)
        if seen > MAX_CONFIG_VALUES:
            raise ConfigTooLarge(f"more than {MAX_CONFIG_VALUES:,} JSON values")
        if isinstance(item, dict):
            yield path, item
            children = [(v, f"{path}.{k}" if path else str(k)) for k, v in item.items() if isinstance(v, (dict, list))]
        else:
            children = [(v, f"{path}[{i}]") for i, v in enumerate(item) if isinstance(v, (dict, list))]
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
    return ConfigDanger(Severity.HIGH, "lambda", where or "<root>", f"{_label(cls, inner)} carries {code}", CVE_LAMBDA)


CVE_LAMBDA = "CVE-2024-3660"
"""Lambda layers carry marshalled bytecode that Keras 2 (and Keras 3 outside safe mode) runs on load."""
CVE_MODULE_INJECTION = "CVE-2025-1550"
"""A config entry naming any module and function: Keras 3 before 3.9 imported and called it."""
CVE_GET_FILE = "CVE-2025-8747"
CVE_UNSAFE_DESERIALIZATION = "CVE-2025-9906"
CVE_VOCABULARY = "CVE-2025-12058"
"""StringLookup / IntegerLookup / TextVectorization read a vocabulary file or URL the config names."""
CVE_TFSMLAYER = "CVE-2026-1462"
"""TFSMLayer loads the external SavedModel its config names, running its resource initialisers."""
CVE_TORCH_WRAPPER = "CVE-2025-49655"
VOCABULARY_LAYERS = frozenset({"StringLookup", "IntegerLookup", "TextVectorization"})
EXTERNAL_KEYS = frozenset({"vocabulary", "idf_weights", "filepath", "file_path", "path", "origin", "url", "fname"})
"""Config keys whose string value, when a path or URL, makes the loader read outside the artifact."""
NETWORK_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
KERAS_NON_MODELING_API = {
    "enable_unsafe_deserialization": CVE_UNSAFE_DESERIALIZATION,
    "set_global_attribute": CVE_UNSAFE_DESERIALIZATION,
    "get_file": CVE_GET_FILE,
    "load_model": "nested load_model",
    "load_weights": "nested load_weights",
    "model_from_json": "nested model_from_json",
    "deserialize_keras_object": "nested deserialisation",
}
"""Keras functions that are no part of a model: named in a config, the loader would call them."""
CODE_CARRYING_KEYS = {"ResidualWrapper": "residual_fn"}
"""Layers other than Lambda whose config holds a Python function as marshalled bytecode."""
TORCH_WRAPPER_CLASSES = frozenset({"TorchModuleWrapper"})


def _external_reference(value: Any) -> str | None:
    """`network` for a URL, `file-read` for a path, None for inline data (a list, a bare token)."""
    if not isinstance(value, str) or not value:
        return None
    if NETWORK_SCHEME.match(value):
        return "file-read" if value.startswith("file://") else "network"
    if value.startswith(("/", "~", "./", "../")) or re.match(r"^[A-Za-z]:[\\/]", value) or "/" in value:
        return "file-read"
    return None


def _technique_dangers(where: str, cls: Any, inner: dict[str, Any], node: dict[str, Any]) -> list[ConfigDanger]:
    """The published techniques that are not Lambdas or foreign modules: external files and URLs,
    external SavedModels, Keras' own non-modeling functions, bytecode outside a Lambda."""
    at = where or "<root>"
    found = []
    if cls == "TFSMLayer":
        target = inner.get("filepath")
        found.append(
            ConfigDanger(
                Severity.HIGH,
                "external-savedmodel",
                at,
                f"TFSMLayer loads the SavedModel at {target!r}, running its resource initialisers",
                CVE_TFSMLAYER,
            )
        )
    for key in sorted(EXTERNAL_KEYS & inner.keys()):
        kind = _external_reference(inner[key])
        if kind is None or cls == "TFSMLayer":
            continue
        technique = CVE_VOCABULARY if cls in VOCABULARY_LAYERS else ""
        what = "fetches" if kind == "network" else "reads"
        severity = Severity.HIGH if kind == "network" else Severity.MEDIUM
        found.append(
            ConfigDanger(
                severity, kind, f"{at}.config.{key}", f"{_label(cls, inner)} {what} {inner[key]!r} on load", technique
            )
        )
    if cls in CODE_CARRYING_KEYS and inner.get(CODE_CARRYING_KEYS[cls]) is not None:
        key = CODE_CARRYING_KEYS[cls]
        size = _marshalled_size(inner[key])
        carried = f"{size} bytes of marshalled bytecode" if size is not None else "a Python function"
        found.append(
            ConfigDanger(
                Severity.HIGH,
                "lambda",
                f"{at}.config.{key}",
                f"{_label(cls, inner)} carries {carried} in {key}",
                f"{cls}.{key}",
            )
        )
    if cls in TORCH_WRAPPER_CLASSES:
        found.append(
            ConfigDanger(
                Severity.HIGH,
                "pickle",
                at,
                f"{cls} holds a serialised torch module, unpickled on load",
                CVE_TORCH_WRAPPER,
            )
        )
    module = node.get("module")
    named = node.get("config") if cls == "function" else cls
    if (
        isinstance(module, str)
        and _is_safe_module(module)
        and isinstance(named, str)
        and named in KERAS_NON_MODELING_API
    ):
        found.append(
            ConfigDanger(
                Severity.HIGH,
                "keras-api",
                at,
                f"names {module}.{named}, no part of a model: the loader would call it",
                KERAS_NON_MODELING_API[named],
            )
        )
    return found


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
            dangers.extend(_technique_dangers(where, cls, inner, node))
            lambdas.append(where)
            continue
        if inside_lambda:
            # The Lambda's function, its module and its closure are part of that one finding, except
            # Keras' own non-modeling functions, which name a technique of their own.
            dangers.extend(d for d in _technique_dangers(where, cls, inner, node) if d.kind == "keras-api")
            continue
        dangers.extend(_technique_dangers(where, cls, inner, node))
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
                ConfigDanger(
                    Severity.HIGH,
                    "lambda",
                    where or "<root>",
                    f"a serialised Python lambda{carried}",
                    "serialised __lambda__",
                )
            )
        module = node.get("module")
        registered = node.get("registered_name")
        if _is_library_object(module, registered):
            dangers.append(
                ConfigDanger(
                    Severity.INFO,
                    "library",
                    where or "<root>",
                    f"{registered or cls!r} of {module!r}: loading needs keras_hub installed (its own class)",
                )
            )
        elif isinstance(module, str) and module and not _is_safe_module(module):
            named = cls if cls != "function" else node.get("config")
            dangers.append(
                ConfigDanger(
                    Severity.HIGH,
                    "foreign-module",
                    where or "<root>",
                    f"names {named!r} of module {module!r}, imported on load",
                    CVE_MODULE_INJECTION,
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
        if _is_library_object(module, registered):
            pass  # reported above as the library it needs
        elif isinstance(cls, str) and REGISTERED_NAME_SEPARATOR in cls and cls not in KERAS_OWN_REGISTERED_NAMES:
            dangers.append(ConfigDanger(Severity.MEDIUM, "custom-object", where or "<root>", f"custom object {cls!r}"))
        else:
            if (
                isinstance(registered, str)
                and REGISTERED_NAME_SEPARATOR in registered
                and registered not in KERAS_OWN_REGISTERED_NAMES
            ):
                dangers.append(
                    ConfigDanger(Severity.MEDIUM, "custom-object", where or "<root>", f"custom object {registered!r}")
                )
    return dangers


def _is_library_object(module: Any, registered: Any) -> bool:
    """A class of a known Keras library (keras_hub): its module is the library's and so is its registered
    name (`keras_hub>BertBackbone`); anything else naming such a module stays a finding."""
    if not isinstance(module, str) or not any(module == m or module.startswith(m + ".") for m in LIBRARY_MODULES):
        return False
    return registered is None or (
        isinstance(registered, str) and registered.split(REGISTERED_NAME_SEPARATOR)[0] in LIBRARY_MODULES
    )


def _builtin_name(node: dict) -> str | None:
    """The builtin a `builtins` item names: its class, or for a function its config string."""
    cls = node.get("class_name")
    if cls == "function" and isinstance(node.get("config"), str):
        return node["config"]
    return cls if isinstance(cls, str) else None


def config_findings(config: Any, source: str, lambda_technique: str = CVE_LAMBDA) -> list[Finding]:
    """Scan findings for a config found in `source` (a root attribute, `config.json`).

    Args:
        lambda_technique: the CVE a Lambda means where the config was found (a Keras 3 legacy `.h5`
            ignores safe mode: CVE-2025-9905).
    """
    try:
        dangers = find_code_in_config(config)
    except ConfigTooLarge as exc:
        return [
            Finding(
                Severity.HIGH,
                "amplification",
                source,
                f"the config holds {exc}: an amplification input, not a model config; not walked further",
                "json-array-bomb",
            )
        ]
    return [
        Finding(
            d.severity,
            d.kind,
            f"{source}: {d.location}",
            d.detail,
            lambda_technique if d.technique == CVE_LAMBDA else d.technique,
        )
        for d in dangers
    ]


MAX_CONFIG_TEXT = 16 << 20
"""A model config of more bytes than this is an amplification input (the largest real ones are a few MB)."""


def read_json_file(location: Location, display: str) -> Any:
    """A small JSON file of an artifact (a config, Orbax metadata), size-capped, as one-line errors.

    Raises:
        CorruptArtifact: over MAX_CONFIG_TEXT, not UTF-8, not JSON, or nested too deep.
    """
    try:
        if location.size() > MAX_CONFIG_TEXT:
            raise CorruptArtifact(f"{display}: {location.name} is over {MAX_CONFIG_TEXT >> 20} MiB: not a config")
        return json.loads(location.read_bytes().decode("utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise CorruptArtifact(f"{display}: {location.name} is not a readable JSON file ({one_line(exc)})") from None


def config_text_findings(text: str, source: str, lambda_technique: str = CVE_LAMBDA) -> tuple[list[Finding], bool]:
    """Parse a config's JSON text as data and screen it, bounded in size and depth.

    Returns:
        (findings, whether the config was parsed and screened); an oversized or too deeply nested
        document is a finding of its own instead.

    Raises:
        ValueError: the text is not JSON at all.
    """
    import json

    if len(text) > MAX_CONFIG_TEXT:
        return [
            Finding(
                Severity.HIGH,
                "amplification",
                source,
                f"a {len(text):,}-byte config, over the {MAX_CONFIG_TEXT >> 20} MiB any model config needs: not parsed",
                "h5-attribute-bomb" if "attribute" in source else "json-size-bomb",
            )
        ], False
    try:
        config = json.loads(text)
    except RecursionError:
        return [
            Finding(
                Severity.HIGH,
                "amplification",
                source,
                "the config nests deeper than any model (Python's recursion limit): not parsed",
                "deep-nesting",
            )
        ], False
    return config_findings(config, source, lambda_technique), True


def layer_configs(config: Any) -> dict[str, dict[str, Any]]:
    """Every layer config in a model config under its layer name; a name used twice (nested models) is dropped."""
    found: dict[str, dict[str, Any]] = {}
    repeated: set[str] = set()
    stack = [config]
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(node)
            continue
        if not isinstance(node, dict):
            continue
        inner = node.get("config")
        if isinstance(node.get("class_name"), str) and isinstance(inner, dict) and isinstance(inner.get("name"), str):
            name = inner["name"]
            if name in found:
                repeated.add(name)
            found[name] = inner
        stack.extend(v for v in node.values() if isinstance(v, dict | list))
    return {k: v for k, v in found.items() if k not in repeated}


def configured_initializer(layer: dict[str, Any], attributes: tuple[str, ...]) -> dict[str, Any] | str | None:
    """The serialised initializer a layer config (or its recurrent cell's) gives for one variable."""
    cell = layer.get("cell")
    owners = [layer] + ([cell["config"]] if isinstance(cell, dict) and isinstance(cell.get("config"), dict) else [])
    for owner in owners:
        for attribute in attributes:
            value = owner.get(attribute)
            if isinstance(value, dict | str):
                return value
    return None
