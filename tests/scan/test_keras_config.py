"""find_code_in_config and check_zip_members on crafted configs and zip directories."""

from __future__ import annotations

import base64
import zipfile

from ckptdiff.formats.keras_archive import check_zip_members
from ckptdiff.formats.keras_config import find_code_in_config


def _kinds(config) -> list[tuple[str, str, str]]:
    return [(d.severity, d.kind, d.location) for d in find_code_in_config(config)]


def test_keras_own_classes_are_clean():
    config = {
        "module": "keras",
        "class_name": "Sequential",
        "config": {
            "layers": [
                {"module": "keras.layers", "class_name": "Dense", "config": {"name": "d"}, "registered_name": None}
            ]
        },
        "registered_name": None,
    }
    assert _kinds(config) == []


def test_module_prefix_is_matched_by_package_not_by_string():
    assert _kinds({"module": "kerasevil.layers", "class_name": "Dense"}) == [("high", "foreign-module", "<root>")]
    assert _kinds({"module": "tf_keras.src.layers", "class_name": "Dense"}) == []


def test_keras3_serialised_lambda_is_one_finding():
    code = base64.b64encode(b"\xe3" * 40).decode()
    config = {
        "class_name": "Lambda",
        "config": {"name": "l", "function": {"class_name": "__lambda__", "config": {"code": code}}},
    }
    dangers = find_code_in_config(config)
    assert [(d.kind, d.location) for d in dangers] == [("lambda", "<root>")]
    assert "40 bytes" in dangers[0].detail


def test_keras2_named_function_lambda_names_its_module():
    config = {
        "class_name": "Lambda",
        "config": {"name": "l", "function": "evil_fn", "function_type": "raw", "module": "evil_pkg"},
    }
    dangers = find_code_in_config(config)
    assert [(d.kind, d.location) for d in dangers] == [("lambda", "<root>")]
    assert "'evil_fn' of module 'evil_pkg'" in dangers[0].detail


def test_raw_op_wrappers_and_custom_objects():
    config = {
        "layers": [
            {"class_name": "TFOpLambda", "config": {"name": "tf.math.add", "function": "math.add"}},
            {"class_name": "MyLayer", "registered_name": "my_pkg>MyLayer", "config": {}},
            {"class_name": "my_pkg>Other", "config": {}},
        ]
    }
    assert _kinds(config) == [
        ("medium", "raw-op", "layers[0]"),
        ("medium", "custom-object", "layers[1]"),
        ("medium", "custom-object", "layers[2]"),
    ]


def test_tf_keras_registered_optimizers_are_not_custom_objects():
    assert _kinds({"optimizer_config": {"class_name": "Custom>Adam", "config": {}}}) == []


def test_dangerous_builtins():
    assert _kinds({"module": "builtins", "class_name": "function", "config": "eval"}) == [
        ("high", "foreign-module", "<root>")
    ]
    assert _kinds({"module": "builtins", "class_name": "function", "config": "relu"}) == []


def test_deeply_nested_config_does_not_recurse():
    config: dict = {"class_name": "Dense"}
    for _ in range(20000):
        config = {"config": config}
    config["config"]["module"] = "os"
    assert [k for _, k, _ in _kinds(config)] == ["foreign-module"]


def _info(name: str, size: int, compressed: int, method: int = zipfile.ZIP_STORED) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name)
    info.file_size, info.compress_size, info.compress_type = size, compressed, method
    return info


def test_zip_directory_judged_without_reading():
    infos = [
        _info("config.json", 10, 10),
        _info("metadata.json", 10, 10),
        _info("model.weights.h5", 100, 100),
        _info("assets/", 0, 0),
        _info("assets/vocab.txt", 5, 5),
        _info("C:/windows.txt", 1, 1),
        _info("a/../../up.txt", 1, 1),
        _info("stored_liar.bin", 10**9, 10),
        _info("deflate_liar.bin", 10**9, 100, zipfile.ZIP_DEFLATED),
        _info("honest.bin", 10**6, 2000, zipfile.ZIP_DEFLATED),
    ]
    found = [(f.severity, f.kind, f.location) for f in check_zip_members(infos)]
    assert found == [
        ("info", "asset", "assets/vocab.txt"),
        ("high", "path-traversal", "C:/windows.txt"),
        ("high", "path-traversal", "a/../../up.txt"),
        ("high", "zip-bomb", "stored_liar.bin"),
        ("high", "zip-bomb", "deflate_liar.bin"),
        ("medium", "extra-member", "honest.bin"),
    ]
