"""keras_h5: legacy Keras H5 files, cross-checked against h5py read independently."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

from ckptdiff.artifact import Format
from ckptdiff.errors import CorruptArtifact, NotHdf5, UnknownArtifactKind, UnreadableArtifact
from ckptdiff.formats import open_artifact
from ckptdiff.formats.keras_h5 import qualify_weight_name, read_keras_h5
from tests.conftest import resolve_artifact

ROOT = Path(__file__).resolve().parents[2]

# (fixture, relative path, kind)
LEGACY_FILES = [
    ("samples", "keras2/model.h5", "full-model"),
    ("samples", "keras2/weights_only.h5", "weights-only"),
    ("samples", "keras3/legacy.h5", "full-model"),
    ("realworld", "keras2_face/gender_mini_XCEPTION.21-0.95.hdf5", "full-model"),
    ("realworld", "keras3_mnist/mnist_model.h5", "full-model"),
]


@pytest.fixture(params=LEGACY_FILES, ids=[rel for _, rel, _ in LEGACY_FILES])
def legacy_file(request: pytest.FixtureRequest) -> tuple[Path, str]:
    fixture, rel, kind = request.param
    return resolve_artifact(request, fixture, rel), kind


# --- the independent oracle: h5py by hand -----------------------------------------------------------


def _names(group: h5py.Group, attr: str) -> list[str]:
    """Keras' load_attributes_from_hdf5_group, written out again."""
    if attr in group.attrs:
        chunks = [group.attrs[attr]]
    else:
        chunks, i = [], 0
        while f"{attr}{i}" in group.attrs:
            chunks.append(group.attrs[f"{attr}{i}"])
            i += 1
    return [n.decode("utf8") if hasattr(n, "decode") else str(n) for c in chunks for n in c]


def _datasets(path: Path) -> dict[str, np.ndarray]:
    found: dict[str, np.ndarray] = {}
    with h5py.File(path, "r") as f:
        f.visititems(lambda name, obj: found.__setitem__(name, obj[()]) if isinstance(obj, h5py.Dataset) else None)
    return found


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


# --- healthy files ------------------------------------------------------------------------------------


def test_every_dataset_is_an_entry_with_identical_bits(legacy_file: tuple[Path, str]) -> None:
    path, _ = legacy_file
    oracle = _datasets(path)
    with read_keras_h5(path, str(path)) as artifact:
        assert artifact.format == Format.KERAS_H5
        assert sorted(e.key for e in artifact.entries) == sorted(oracle)
        for entry in artifact.entries:
            assert _same_bits(entry.read(), oracle[entry.key]), entry.key
            assert entry.shape == oracle[entry.key].shape
            assert entry.dtype == oracle[entry.key].dtype.name
            chunks = list(entry.iter_chunks(max_elements=7))
            flat = np.concatenate(chunks) if chunks else np.array([], oracle[entry.key].dtype)
            assert flat.tobytes() == np.ascontiguousarray(oracle[entry.key]).tobytes()
        assert artifact.notes == ()


def test_layers_follow_layer_names_and_weight_names(legacy_file: tuple[Path, str]) -> None:
    path, kind = legacy_file
    with h5py.File(path, "r") as f, read_keras_h5(path, str(path)) as artifact:
        root = f["model_weights"] if kind == "full-model" else f
        layer_names = _names(root, "layer_names")
        assert [r.name for r in artifact.layers] == layer_names
        assert artifact.metadata["kind"] == kind
        for record in artifact.layers:
            weight_names = _names(root[record.name], "weight_names")
            assert list(record.weight_names) == weight_names
            prefix = "model_weights/" if kind == "full-model" else ""
            assert list(record.weight_keys) == [f"{prefix}{record.name}/{w}" for w in weight_names]
            assert record.layer_name == record.name
            for key, weight_name in zip(record.weight_keys, weight_names):
                entry = artifact.entry(key)
                assert entry.group == "model"
                assert entry.paths == (qualify_weight_name(record.name, weight_name),)
        # Loader order: the model weights come first, layer by layer.
        model_keys = [k for r in artifact.layers for k in r.weight_keys]
        assert [e.key for e in artifact.entries[: len(model_keys)]] == model_keys


def test_optimizer_weights_are_grouped_in_weight_names_order(legacy_file: tuple[Path, str]) -> None:
    path, kind = legacy_file
    with h5py.File(path, "r") as f, read_keras_h5(path, str(path)) as artifact:
        has_optimizer = "optimizer_weights" in f
        assert artifact.metadata["has_optimizer_weights"] is has_optimizer
        optimizer = [e for e in artifact.entries if e.group == "optimizer"]
        if not has_optimizer:
            assert optimizer == []
            return
        names = _names(f["optimizer_weights"], "weight_names")
        assert [e.key for e in optimizer] == [f"optimizer_weights/{n}" for n in names]
        assert [e.paths for e in optimizer] == [(n,) for n in names]
        assert all(e.key.startswith("optimizer_weights/") for e in optimizer)
        assert all(not e.key.startswith("optimizer_weights/") for e in artifact.entries if e.group == "model")


def test_full_model_config_and_metadata(legacy_file: tuple[Path, str]) -> None:
    path, kind = legacy_file
    with h5py.File(path, "r") as f, read_keras_h5(path, str(path)) as artifact:
        version = f.attrs.get("keras_version")
        if version is None:
            version = f["model_weights"].attrs["keras_version"]
        expected = version.decode() if isinstance(version, bytes) else version
        assert artifact.metadata["keras_version"] == expected
        if kind == "weights-only":
            assert artifact.config is None
            assert artifact.metadata["has_training_config"] is False
            return
        text = f.attrs["model_config"]
        config = json.loads(text.decode() if isinstance(text, bytes) else text)
        assert artifact.config == config
        assert artifact.metadata["has_training_config"] is True
        layer_list = config["config"]["layers"] if isinstance(config["config"], dict) else config["config"]
        classes = {(item.get("name") or item["config"]["name"]): item["class_name"] for item in layer_list}
        for record in artifact.layers:
            assert record.class_name == classes[record.name]


def test_reading_changes_nothing_and_close_releases_the_file(legacy_file: tuple[Path, str]) -> None:
    path, _ = legacy_file
    before = sorted(p.name for p in path.parent.iterdir())
    digest = _sha256(path)
    artifact = read_keras_h5(path, str(path))
    dataset = artifact.entries[0].source.dataset
    for entry in artifact.entries:
        entry.read()
    artifact.close()
    assert not dataset.id.valid
    assert _sha256(path) == digest
    assert sorted(p.name for p in path.parent.iterdir()) == before


@pytest.mark.realworld
def test_keras_2_0_5_face_model(realworld: Path) -> None:
    path = realworld / "keras2_face/gender_mini_XCEPTION.21-0.95.hdf5"
    with h5py.File(path, "r") as f:
        assert isinstance(f["model_weights"].attrs["layer_names"][0], bytes)  # the old byte-string attrs
    with open_artifact(path) as artifact:
        assert artifact.format == Format.KERAS_H5
        assert artifact.metadata["keras_version"] == "2.0.5"
        assert artifact.metadata["optimizer_class"] == "Adam"
        names = [r.name for r in artifact.layers]
        assert names[:3] == ["input_1", "conv2d_1", "batch_normalization_1"]
        assert names[-1] == "predictions"
        assert len(names) == 46
        bn = artifact.layers[2]
        assert bn.class_name == "BatchNormalization"
        assert bn.weight_names == tuple(
            f"batch_normalization_1/{w}:0" for w in ("gamma", "beta", "moving_mean", "moving_variance")
        )
        assert artifact.layers[3].weight_keys == ()  # activation_1: kept although it has no weights
        optimizer = [e for e in artifact.entries if e.group == "optimizer"]
        assert len(optimizer) == 105
        assert optimizer[0].key == "optimizer_weights/iterations:0"


@pytest.mark.realworld
def test_keras_3_legacy_h5_with_bare_weight_names(realworld: Path) -> None:
    with open_artifact(realworld / "keras3_mnist/mnist_model.h5") as artifact:
        assert artifact.metadata["keras_version"] == "3.1.1"
        dense = artifact.layers[-1]
        assert dense.weight_names == ("kernel", "bias")
        assert dense.weight_keys == ("model_weights/dense/kernel", "model_weights/dense/bias")
        assert artifact.entry("model_weights/dense/kernel").paths == ("dense/kernel",)


def test_qualified_weight_names() -> None:
    assert qualify_weight_name("dense", "dense/kernel:0") == "dense/kernel:0"
    assert qualify_weight_name("dense", "mlp/dense/kernel") == "mlp/dense/kernel"
    assert qualify_weight_name("conv2d", "kernel") == "conv2d/kernel"
    assert qualify_weight_name("inner", "dense/kernel:0") == "inner/dense/kernel:0"


# --- hand-made files: odd but legal, and broken -------------------------------------------------------


def _write_weights_only(path: Path, **extra_attrs: object) -> None:
    with h5py.File(path, "w") as f:
        f.attrs["layer_names"] = np.array([b"dense_1", b"flatten_1"])
        f.attrs["keras_version"] = np.bytes_(b"2.1.6")
        f.attrs["backend"] = b"tensorflow"
        for k, v in extra_attrs.items():
            f.attrs[k] = v
        g = f.create_group("dense_1")
        g.attrs["weight_names"] = np.array([b"dense_1/kernel:0", b"dense_1/bias:0"])
        g["dense_1/kernel:0"] = np.arange(6, dtype=np.float32).reshape(2, 3)
        g["dense_1/bias:0"] = np.ones(3, dtype=np.float32)
        f.create_group("flatten_1").attrs["weight_names"] = np.array([], dtype=np.float64)


def test_byte_string_attributes_and_weightless_layers(tmp_path: Path) -> None:
    path = tmp_path / "old.h5"
    _write_weights_only(path)
    with read_keras_h5(path, "old.h5") as artifact:
        assert artifact.metadata == {
            "kind": "weights-only",
            "keras_version": "2.1.6",
            "backend": "tensorflow",
            "has_optimizer_weights": False,
            "has_training_config": False,
        }
        assert [(r.name, r.weight_keys) for r in artifact.layers] == [
            ("dense_1", ("dense_1/dense_1/kernel:0", "dense_1/dense_1/bias:0")),
            ("flatten_1", ()),
        ]


def test_chunked_name_lists_are_joined(tmp_path: Path) -> None:
    path = tmp_path / "chunked.h5"
    _write_weights_only(path)
    with h5py.File(path, "a") as f:
        del f.attrs["layer_names"]
        f.attrs["layer_names0"] = np.array([b"dense_1"])
        f.attrs["layer_names1"] = np.array([b"flatten_1"])
    with read_keras_h5(path, "chunked.h5") as artifact:
        assert [r.name for r in artifact.layers] == ["dense_1", "flatten_1"]


def test_keras_2_0_sequential_config_as_a_list(tmp_path: Path) -> None:
    path = tmp_path / "seq.h5"
    config = {"class_name": "Sequential", "config": [{"class_name": "Dense", "config": {"name": "dense_1"}}]}
    with h5py.File(path, "w") as f:
        f.attrs["model_config"] = json.dumps(config).encode()
        mw = f.create_group("model_weights")
        mw.attrs["layer_names"] = np.array([b"dense_1"])
        g = mw.create_group("dense_1")
        g.attrs["weight_names"] = np.array([b"dense_1/kernel:0"])
        g["dense_1/kernel:0"] = np.zeros((2, 2), np.float32)
    with read_keras_h5(path, "seq.h5") as artifact:
        assert artifact.metadata["kind"] == "full-model"
        assert artifact.layers[0].class_name == "Dense"
        assert artifact.config == config


def test_unlisted_and_missing_weights_are_reported_not_fatal(tmp_path: Path) -> None:
    path = tmp_path / "odd.h5"
    _write_weights_only(path)
    with h5py.File(path, "a") as f:
        names = [b"dense_1/kernel:0", b"dense_1/gone:0", b"dense_1/bias:0"]
        f["dense_1"].attrs["weight_names"] = np.array(names)
        f["flatten_1/stray:0"] = np.zeros(2, np.float32)
    with read_keras_h5(path, "odd.h5") as artifact:
        assert artifact.layers[0].weight_keys == ("dense_1/dense_1/kernel:0", "dense_1/dense_1/bias:0")
        assert artifact.layers[0].weight_names == ("dense_1/kernel:0", "dense_1/gone:0", "dense_1/bias:0")
        stray = artifact.entry("flatten_1/stray:0")
        assert stray.group == "model" and stray.paths == ()
        notes = " | ".join(artifact.notes)
        assert "dense_1/dense_1/gone:0 (missing)" in notes
        assert "flatten_1/stray:0" in notes


def test_external_links_are_never_followed(tmp_path: Path) -> None:
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as f:
        f["secret"] = np.arange(3.0)
    path = tmp_path / "linked.h5"
    _write_weights_only(path)
    with h5py.File(path, "a") as f:
        del f["dense_1/dense_1/bias:0"]
        f["dense_1/dense_1/bias:0"] = h5py.ExternalLink(str(other), "/secret")
    with read_keras_h5(path, "linked.h5") as artifact:
        assert [e.key for e in artifact.entries] == ["dense_1/dense_1/kernel:0"]
        assert "external link" in " ".join(artifact.notes)


@pytest.mark.parametrize(
    "attr, value, message",
    [
        ("weight_names", np.array([1, 2]), "expected a string"),
        ("weight_names", 7, "expected an array of names"),
        ("model_config", 3, "expected a string"),
        ("model_config", "{not json", "not valid JSON"),
        ("keras_version", np.array([1.5]), "expected a string"),
    ],
)
def test_bad_attribute_types_are_corrupt_not_crashes(tmp_path: Path, attr: str, value: object, message: str) -> None:
    path = tmp_path / "bad.h5"
    _write_weights_only(path)
    with h5py.File(path, "a") as f:
        (f["dense_1"] if attr == "weight_names" else f).attrs[attr] = value
    with pytest.raises(CorruptArtifact, match=message) as info:
        read_keras_h5(path, "bad.h5")
    assert str(info.value).startswith("bad.h5: ")
    assert "\n" not in str(info.value)


def test_text_file_named_h5_is_not_hdf5(tmp_path: Path) -> None:
    path = tmp_path / "x.h5"
    path.write_text("these are not the weights you are looking for\n")
    with pytest.raises(NotHdf5, match="x.h5"):
        open_artifact(path)
    with pytest.raises(NotHdf5, match="x.h5: not an HDF5 file"):
        read_keras_h5(path, str(path))


def test_unrelated_hdf5_is_an_unknown_kind(tmp_path: Path) -> None:
    path = tmp_path / "table.h5"
    with h5py.File(path, "w") as f:
        f["measurements/temperature"] = np.arange(10.0)
        f.attrs["instrument"] = "thermometer"
    with pytest.raises(UnknownArtifactKind, match="table.h5: HDF5 but not a Keras weights file"):
        open_artifact(path)


def test_truncated_h5_is_unreadable(samples: Path, tmp_path: Path) -> None:
    source = samples / "keras2/model.h5"
    if not source.is_file():
        pytest.skip(f"{source} is missing: regenerate the corpus with `make samples`")
    path = tmp_path / "cut.h5"
    path.write_bytes(source.read_bytes()[: source.stat().st_size // 3])
    with pytest.raises(UnreadableArtifact, match="cut.h5") as info, open_artifact(path) as artifact:
        for entry in artifact.entries:
            entry.read()
    assert "\n" not in str(info.value)


def test_inspecting_h5_never_imports_tensorflow_or_keras(samples: Path) -> None:
    paths = [str(p) for p in (samples / "keras2/model.h5", samples / "keras3/legacy.h5") if p.is_file()]
    if not paths:
        pytest.skip("the keras2/keras3 H5 samples are missing: regenerate the corpus with `make samples`")
    script = (
        "import sys\n"
        "from ckptdiff.formats import open_artifact\n"
        "for p in sys.argv[1:]:\n"
        "    with open_artifact(p) as a:\n"
        "        assert a.format == 'keras-h5', a.format\n"
        "        [e.read() for e in a.entries]\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras', 'tf_keras'))\n"
        "assert not bad, bad[:5]\n"
    )
    result = subprocess.run([sys.executable, "-c", script, *paths], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
