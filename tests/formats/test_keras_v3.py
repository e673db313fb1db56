"""keras_v3: Keras 3 `.weights.h5` and `.keras` files, cross-checked against h5py and Keras' own loader."""

from __future__ import annotations

import copy
import hashlib
import io
import json
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest

from ckptdiff.artifact import Artifact, Format
from ckptdiff.errors import CorruptArtifact, NotHdf5, NotKerasArchive, UnreadableArtifact
from ckptdiff.formats import open_artifact
from ckptdiff.formats.keras3_layout import containers_from_config, list_element_key, to_snake_case
from ckptdiff.formats.keras_archive import read_keras_archive
from ckptdiff.formats.keras_weights_h5 import is_keras3_weights_file, read_keras_weights_h5
from ckptdiff.storage import locate
from tests.conftest import resolve_artifact

ROOT = Path(__file__).resolve().parents[2]

ARCHIVES = [("samples", "keras3/model.keras"), ("realworld", "keras3_mnist/mnist_model.keras")]
EXPECTED_CONTAINERS = {
    "keras3/model.keras": [
        ("layers/dense", "dense", "Dense"),
        ("layers/batch_normalization", "batch_normalization", "BatchNormalization"),
        ("layers/dense_1", "dense_1", "Dense"),
        ("layers/dense_2", "dense_2", "Dense"),
    ],
    "keras3_mnist/mnist_model.keras": [
        ("layers/conv2d", "conv2d", "Conv2D"),
        ("layers/max_pooling2d", "max_pooling2d", "MaxPooling2D"),
        ("layers/conv2d_1", "conv2d_1", "Conv2D"),
        ("layers/max_pooling2d_1", "max_pooling2d_1", "MaxPooling2D"),
        ("layers/flatten", "flatten", "Flatten"),
        ("layers/dropout", "dropout", "Dropout"),
        ("layers/dense", "dense", "Dense"),
    ],
}


@pytest.fixture
def weights_h5(samples: Path) -> Path:
    path = samples / "keras3/model.weights.h5"
    if not path.is_file():
        pytest.skip(f"{path} is missing: regenerate the corpus with `make samples`")
    return path


@pytest.fixture(params=ARCHIVES, ids=[rel for _, rel in ARCHIVES])
def archive(request: pytest.FixtureRequest) -> Path:
    return resolve_artifact(request, *request.param)


# --- the independent oracle: h5py and zipfile by hand ------------------------------------------------


def _datasets(h5: h5py.File) -> dict[str, tuple[np.ndarray, dict[str, Any]]]:
    found: dict[str, tuple[np.ndarray, dict[str, Any]]] = {}

    def visit(name: str, obj: Any) -> None:
        if isinstance(obj, h5py.Dataset):
            found[name] = (obj[()], dict(obj.attrs))

    h5.visititems(visit)
    return found


def _archive_datasets(path: Path) -> dict[str, tuple[np.ndarray, dict[str, Any]]]:
    with zipfile.ZipFile(path) as zf, h5py.File(io.BytesIO(zf.read("model.weights.h5")), "r") as h5:
        return _datasets(h5)


def _check_against(artifact: Artifact, oracle: dict[str, tuple[np.ndarray, dict[str, Any]]]) -> None:
    assert sorted(e.key for e in artifact.entries) == sorted(oracle)
    for entry in artifact.entries:
        values, _ = oracle[entry.key]
        got = entry.read()
        assert got.shape == values.shape == entry.shape, entry.key
        assert got.tobytes() == values.tobytes(), entry.key
        assert np.concatenate(list(entry.iter_chunks(5))).tobytes() == np.ascontiguousarray(values).tobytes()
        assert entry.group == ("optimizer" if entry.key.startswith("optimizer/") else "model")


def _check_numeric_var_order(artifact: Artifact) -> None:
    for record in artifact.layers:
        indices = [int(k.rsplit("/", 1)[1]) for k in record.weight_keys]
        assert indices == list(range(len(indices))), record.name
        assert all(k == f"{record.name}/vars/{i}" for i, k in enumerate(record.weight_keys))
    optimizer = [int(e.key.rsplit("/", 1)[1]) for e in artifact.entries if e.group == "optimizer"]
    assert optimizer == list(range(len(optimizer)))


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --- detection ----------------------------------------------------------------------------------------


def test_is_keras3_weights_file(samples: Path, tmp_path: Path) -> None:
    for rel, expected in [
        ("keras3/model.weights.h5", True),
        ("keras3/legacy.h5", False),
        ("keras2/model.h5", False),
        ("keras2/weights_only.h5", False),
        ("keras3/model.keras", False),
    ]:
        path = samples / rel
        if path.is_file():
            assert is_keras3_weights_file(locate(path)) is expected, rel
    text = tmp_path / "x.h5"
    text.write_text("not hdf5")
    assert is_keras3_weights_file(locate(text)) is False
    assert is_keras3_weights_file(locate(tmp_path / "absent.h5")) is False
    subclassed = tmp_path / "subclassed.weights.h5"
    with h5py.File(subclassed, "w") as f:
        f["encoder/vars/0"] = np.zeros(2)
    assert is_keras3_weights_file(locate(subclassed)) is True


# --- .weights.h5 --------------------------------------------------------------------------------------


def test_weights_h5_entries_match_h5py(weights_h5: Path) -> None:
    with h5py.File(weights_h5, "r") as h5:
        oracle = _datasets(h5)
        names: dict[str, Any] = {}  # container path -> the `name` attribute of its vars group

        def collect(name: str, obj: Any) -> None:
            if isinstance(obj, h5py.Group) and name.endswith("/vars"):
                names[name[: -len("/vars")]] = obj.attrs.get("name")

        h5.visititems(collect)
    with open_artifact(weights_h5) as artifact:
        assert artifact.format == Format.KERAS_WEIGHTS_H5
        _check_against(artifact, oracle)
        _check_numeric_var_order(artifact)
        assert artifact.notes == ()
        assert artifact.config is None
        assert artifact.metadata["has_optimizer_weights"] is True
        containers = {n for n in names if not n.startswith("optimizer")}
        assert {r.name for r in artifact.layers} == containers
        for record in artifact.layers:
            assert record.layer_name == names[record.name]
            for i, key in enumerate(record.weight_keys):
                assert artifact.entry(key).paths == (f"{names[record.name]}/vars/{i}",)


def test_vars_sort_numerically_and_odd_content_is_noted(tmp_path: Path) -> None:
    path = tmp_path / "odd.weights.h5"
    with h5py.File(path, "w") as f:
        f.create_group("vars")
        for i in range(12):
            f[f"layers/dense/vars/{i}"] = np.full(2, i, np.float32)
        f["layers/dense/vars"].attrs["name"] = "first"
        f["layers/dense/vars/extra"] = np.zeros(1)
        f["layers/dense_10/vars/0"] = np.zeros(1)
        f["layers/dense_2/vars/0"] = np.zeros(1)
        f["layers/dense/loose"] = np.zeros(1)
    with read_keras_weights_h5(locate(path), "odd.weights.h5") as artifact:
        dense = artifact.layers[0]
        assert dense.name == "layers/dense" and dense.layer_name == "first"
        numbered = tuple(f"layers/dense/vars/{i}" for i in range(12))
        assert dense.weight_keys == numbered + ("layers/dense/vars/extra",)
        assert [r.name for r in artifact.layers] == ["layers/dense", "layers/dense_2", "layers/dense_10"]
        assert artifact.entry("layers/dense/vars/10").paths == ("first/vars/10",)
        assert artifact.entry("layers/dense_2/vars/0").paths == ()  # no name recorded on the way
        assert artifact.entry("layers/dense/loose").group == "model"
        notes = " | ".join(artifact.notes)
        assert "layers/dense/loose" in notes and "layers/dense/vars/extra" in notes


def test_bfloat16_is_reported_and_viewed(tmp_path: Path) -> None:
    ml_dtypes = pytest.importorskip("ml_dtypes")
    path = tmp_path / "bf.weights.h5"
    values = np.array([1.5, -2.0, 0.25], dtype=ml_dtypes.bfloat16)
    with h5py.File(path, "w") as f:
        ds = f.create_dataset("layers/dense/vars/0", data=values.view(np.dtype("V2")))
        ds.attrs["dtype"] = "bfloat16"
    with read_keras_weights_h5(locate(path), str(path)) as artifact:
        entry = artifact.entry("layers/dense/vars/0")
        assert entry.dtype == "bfloat16"
        assert entry.read().tobytes() == values.tobytes()
        assert entry.read().astype(np.float32).tolist() == [1.5, -2.0, 0.25]


def test_metrics_are_bookkeeping(tmp_path: Path) -> None:
    path = tmp_path / "metrics.weights.h5"
    with h5py.File(path, "w") as f:
        f["layers/dense/vars/0"] = np.zeros(2)
        f["metrics/mean/vars/0"] = np.zeros(())
    with read_keras_weights_h5(locate(path), str(path)) as artifact:
        assert artifact.entry("metrics/mean/vars/0").group == "bookkeeping"
        assert [r.name for r in artifact.layers] == ["layers/dense"]


# --- .keras archives ----------------------------------------------------------------------------------


def test_archive_entries_match_the_inner_h5(archive: Path) -> None:
    with zipfile.ZipFile(archive) as zf:
        config = json.loads(zf.read("config.json"))
        saved = json.loads(zf.read("metadata.json"))
        assert zf.getinfo("model.weights.h5").compress_type == zipfile.ZIP_STORED  # what Keras writes
    with open_artifact(archive) as artifact:
        assert artifact.format == Format.KERAS_ARCHIVE
        _check_against(artifact, _archive_datasets(archive))
        _check_numeric_var_order(artifact)
        assert artifact.config == config
        assert artifact.metadata["keras_version"] == saved["keras_version"]
        assert artifact.metadata["date_saved"] == saved["date_saved"]
        assert artifact.metadata["weights_member_compression"] == "stored"
        assert artifact.metadata["model_class"] == "Sequential"
        assert artifact.notes == ()
        # A stored member is read in place through a window over the zip, not extracted or copied.
        assert artifact.entries[0].source.dataset.file.driver == "fileobj"


def test_archive_containers_carry_config_names_and_classes(archive: Path) -> None:
    expected = EXPECTED_CONTAINERS[next(k for k in EXPECTED_CONTAINERS if str(archive).endswith(k))]
    with open_artifact(archive) as artifact:
        with_vars = [(r.name, r.layer_name, r.class_name) for r in artifact.layers]
        # Keras 3.1 wrote no vars group for weightless layers; 3.15 writes one for every layer.
        assert [c for c in expected if c[0] in {n for n, _, _ in with_vars}] == with_vars
        for record in artifact.layers:
            for i, key in enumerate(record.weight_keys):
                assert artifact.entry(key).paths == (f"{record.layer_name}/vars/{i}",)


def test_compressed_archive_is_read_in_memory(archive: Path, tmp_path: Path) -> None:
    path = tmp_path / "deflated.keras"
    with zipfile.ZipFile(archive) as src, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(info.filename, src.read(info))
    with read_keras_archive(locate(path), str(path)) as artifact:
        assert artifact.metadata["weights_member_compression"] == "deflated"
        _check_against(artifact, _archive_datasets(archive))


def test_reading_changes_nothing_and_writes_nothing(archive: Path, weights_h5: Path) -> None:
    for path in (archive, weights_h5):
        before = sorted(p.name for p in path.parent.iterdir())
        digest = _sha256(path)
        with open_artifact(path) as artifact:
            for entry in artifact.entries:
                entry.read()
        assert _sha256(path) == digest
        assert sorted(p.name for p in path.parent.iterdir()) == before


def test_closing_releases_the_archive(archive: Path) -> None:
    artifact = open_artifact(archive)
    dataset = artifact.entries[0].source.dataset
    artifact.close()
    assert not dataset.id.valid


def test_container_keys_from_config() -> None:
    def layer(cls: str, name: str, **config: Any) -> dict[str, Any]:
        return {"class_name": cls, "config": {"name": name, **config}}

    config = layer(
        "Functional",
        "outer",
        layers=[
            layer("InputLayer", "input_layer"),
            layer("Dense", "d_a"),
            layer("Conv2DTranspose", "up"),
            layer("Dense", "d_b"),
            layer(
                "Sequential",
                "inner",
                layers=[layer("InputLayer", "in2"), layer("Dense", "d_c"), layer("Dense", "d_d")],
            ),
        ],
    )
    found = containers_from_config(config)
    assert found.list_orders == {
        "layers": ["input_layer", "dense", "conv2d_transpose", "dense_1", "sequential"],
        "layers/sequential/layers": ["dense", "dense_1"],  # a Sequential's InputLayer is not in model.layers
    }
    assert found.layers["layers/dense_1"].name == "d_b"
    assert found.layers["layers/sequential/layers/dense_1"].name == "d_d"
    assert found.layers["layers/conv2d_transpose"].class_name == "Conv2DTranspose"


def _zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def _keras_zip(path: Path, config: dict[str, Any], weights: io.BytesIO) -> Path:
    return _zip(path, {"config.json": json.dumps(config).encode(), "model.weights.h5": weights.getvalue()})


def test_tf_keras_2_13_layer_group_name(tmp_path: Path) -> None:
    weights = io.BytesIO()
    with h5py.File(weights, "w") as f:
        f["_layer_checkpoint_dependencies/dense/vars/0"] = np.ones((2, 2), np.float32)
        f["_layer_checkpoint_dependencies/dense_1/vars/0"] = np.zeros(2, np.float32)
    config = {
        "class_name": "Sequential",
        "config": {
            "name": "s",
            "layers": [
                {"class_name": "Dense", "config": {"name": "first"}},
                {"class_name": "Dense", "config": {"name": "second"}},
            ],
        },
    }
    path = _keras_zip(tmp_path / "old.keras", config, weights)
    with read_keras_archive(locate(path), str(path)) as artifact:
        assert artifact.metadata["layers_group"] == "_layer_checkpoint_dependencies"
        assert [(r.name, r.layer_name, r.class_name) for r in artifact.layers] == [
            ("_layer_checkpoint_dependencies/dense", "first", "Dense"),
            ("_layer_checkpoint_dependencies/dense_1", "second", "Dense"),
        ]
        assert artifact.entry("_layer_checkpoint_dependencies/dense_1/vars/0").paths == ("second/vars/0",)


def test_config_mismatch_is_noted(tmp_path: Path) -> None:
    weights = io.BytesIO()
    with h5py.File(weights, "w") as f:
        f["layers/dense/vars/0"] = np.ones(2, np.float32)
        f["layers/conv2d/vars/0"] = np.ones(2, np.float32)
    dense = {"class_name": "Dense", "config": {"name": "d"}}
    config = {"class_name": "Sequential", "config": {"layers": [dense]}}
    path = _keras_zip(tmp_path / "m.keras", config, weights)
    with read_keras_archive(locate(path), str(path)) as artifact:
        assert [r.name for r in artifact.layers] == ["layers/dense", "layers/conv2d"]
        assert "layers/conv2d" in " ".join(artifact.notes)


# --- errors -------------------------------------------------------------------------------------------


def test_zip_without_config_is_not_a_keras_archive(tmp_path: Path) -> None:
    path = _zip(tmp_path / "x.keras", {"model.weights.h5": b"", "readme.txt": b"hi"})
    with pytest.raises(NotKerasArchive, match=r"x\.keras: .*no config\.json") as info:
        open_artifact(path)
    assert "\n" not in str(info.value)
    path = _zip(tmp_path / "y.zip", {"config.json": b"{}"})
    with pytest.raises(NotKerasArchive, match=r"y\.zip: .*no model\.weights\.h5"):
        open_artifact(path)


def test_an_empty_npz_weights_member_is_damage(tmp_path: Path) -> None:
    """npz weights are read since issue 13 (tests/formats/test_keras_model_dir.py); an empty one is no npz."""
    path = _zip(tmp_path / "npz.keras", {"config.json": b"{}", "model.weights.npz": b""})
    with pytest.raises(CorruptArtifact, match="model.weights.npz is not a readable npz"):
        open_artifact(path)


def test_truncated_archive_is_unreadable(archive: Path, tmp_path: Path) -> None:
    data = archive.read_bytes()
    for cut in (len(data) // 2, len(data) - 30):
        path = tmp_path / f"cut{cut}.keras"
        path.write_bytes(data[:cut])
        with pytest.raises(UnreadableArtifact, match=path.name) as info, open_artifact(path) as artifact:
            for entry in artifact.entries:
                entry.read()
        assert "\n" not in str(info.value)


def test_bad_config_json_is_corrupt(tmp_path: Path) -> None:
    path = _zip(tmp_path / "bad.keras", {"config.json": b"{nope", "model.weights.h5": b""})
    with pytest.raises(CorruptArtifact, match="config.json is not valid JSON"):
        open_artifact(path)


def test_weights_member_that_is_not_hdf5(tmp_path: Path) -> None:
    path = _zip(tmp_path / "fake.keras", {"config.json": b"{}", "model.weights.h5": b"definitely not hdf5"})
    with pytest.raises(NotHdf5, match=r"fake\.keras: member model\.weights\.h5 is not an HDF5 file"):
        open_artifact(path)


def test_inspecting_keras3_files_never_imports_tensorflow_or_keras(samples: Path) -> None:
    candidates = (samples / "keras3/model.weights.h5", samples / "keras3/model.keras")
    paths = [str(p) for p in candidates if p.is_file()]
    if not paths:
        pytest.skip("the keras3 samples are missing: regenerate the corpus with `make samples`")
    script = (
        "import sys\n"
        "from ckptdiff.formats import open_artifact\n"
        "for p in sys.argv[1:]:\n"
        "    with open_artifact(p) as a:\n"
        "        [e.read() for e in a.entries]\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras', 'tf_keras'))\n"
        "assert not bad, bad[:5]\n"
    )
    result = subprocess.run([sys.executable, "-c", script, *paths], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


# --- the real loader as oracle (TensorFlow/Keras imported) --------------------------------------------


def _keras_load_visits(keras: Any, model: Any, weights_path: Path) -> dict[str, Any]:
    """Load weights with Keras and record, in visit order, which object it loads from each path."""
    from keras.src.saving import saving_lib

    visits: dict[str, Any] = {}
    original = saving_lib._load_state

    def recording(saveable: Any, *args: Any, **kwargs: Any) -> Any:
        inner_path = kwargs.get("inner_path", args[2] if len(args) > 2 else "")
        visits.setdefault(inner_path, saveable)
        return original(saveable, *args, **kwargs)

    saving_lib._load_state = recording
    try:
        model.load_weights(str(weights_path))
    finally:
        saving_lib._load_state = original
    return visits


def _check_assignment_like_keras(
    keras: Any, artifact: Artifact, model: Any, weights_path: Path, exact_order: bool
) -> None:
    visits = _keras_load_visits(keras, model, weights_path)
    mine = [r.name for r in artifact.layers]
    keras_order = [p for p in visits if p in set(mine)]
    assert set(mine) <= set(visits), sorted(set(mine) - set(visits))
    if exact_order:
        assert mine == keras_order
    else:  # without config.json only the order within one class key is recorded by the file

        def by_class(order: list[str]) -> dict[tuple[str, str], list[str]]:
            grouped: dict[tuple[str, str], list[str]] = {}
            for p in order:
                parent, _, last = p.rpartition("/")
                grouped.setdefault((parent, list_element_key(last)[0]), []).append(p)
            return grouped

        assert by_class(mine) == by_class(keras_order)
    derived = containers_from_config(artifact.config).layers
    for record in artifact.layers:
        target = visits[record.name]
        store: dict[str, Any] = {}
        target.save_own_variables(store)
        assert len(store) == len(record.weight_keys), record.name
        for i, key in enumerate(record.weight_keys):
            value = store[str(i)]
            expected = np.asarray(value.numpy() if hasattr(value, "numpy") else value)
            assert expected.tobytes() == artifact.entry(key).read().tobytes(), key
        if record.class_name is not None:
            assert type(target).__name__ == record.class_name
        if record.name in derived:
            assert record.layer_name == target.name


def _model_from_archive_config(keras: Any, artifact: Artifact) -> Any:
    # Safe mode, and only for trusted test fixtures: the reader itself never deserialises a config.
    # deserialize_keras_object pops keys from the dict it is given, hence the copy.
    return keras.saving.deserialize_keras_object(copy.deepcopy(artifact.config), safe_mode=True)


@pytest.mark.requires_tf
def test_archive_containers_match_keras_loader(tf: Any, archive: Path) -> None:
    import keras

    with open_artifact(archive) as artifact:
        model = _model_from_archive_config(keras, artifact)
        _check_assignment_like_keras(keras, artifact, model, archive, exact_order=True)


def _build_model(keras: Any) -> Any:
    layers = keras.layers
    inputs = keras.Input((5,), dtype="int32")
    x = layers.Embedding(40, 8)(inputs)
    x = layers.LSTM(6, return_sequences=True)(x)
    x = layers.MultiHeadAttention(2, 4)(x, x)
    x = layers.BatchNormalization()(x)
    x = layers.GlobalAveragePooling1D()(x)
    for _ in range(11):  # dense, dense_1, ..., dense_10: `10` must come after `9`
        x = layers.Dense(6)(x)
    x = keras.Sequential([layers.Dense(5), layers.Dense(4)])(x)
    sub_in = keras.Input((4,))
    x = keras.Model(sub_in, layers.Dense(3)(sub_in))(x)
    return keras.Model(inputs, x)


@pytest.mark.requires_tf
def test_nested_recurrent_attention_model_matches_keras_loader(tf: Any, tmp_path: Path) -> None:
    import keras

    keras.utils.set_random_seed(1)
    model = _build_model(keras)
    model.compile(optimizer="adam", loss="mse")
    model.fit(np.random.randint(0, 40, (8, 5)), np.random.rand(8, 3), verbose=0)
    model.save(tmp_path / "m.keras")
    model.save_weights(tmp_path / "m.weights.h5")
    with open_artifact(tmp_path / "m.keras") as artifact:
        assert artifact.notes == ()
        names = [r.name for r in artifact.layers]
        assert names.index("layers/dense_10") == names.index("layers/dense_9") + 1
        assert "layers/lstm/cell" in names and "layers/sequential/layers/dense_1" in names
        assert "layers/functional/layers/dense" in names
        assert "layers/multi_head_attention/query_dense" in names
        model = _model_from_archive_config(keras, artifact)
        _check_assignment_like_keras(keras, artifact, model, tmp_path / "m.keras", exact_order=True)
        fresh = _model_from_archive_config(keras, artifact)
    with open_artifact(tmp_path / "m.weights.h5") as artifact:
        assert artifact.format == Format.KERAS_WEIGHTS_H5
        _check_assignment_like_keras(keras, artifact, fresh, tmp_path / "m.weights.h5", exact_order=False)


@pytest.mark.requires_tf
def test_snake_case_matches_keras() -> None:
    from keras.src.utils import naming

    names = ["Dense", "Conv2D", "Conv2DTranspose", "MultiHeadAttention", "GRU", "PReLU", "LSTMCell"]
    names += ["My_Layer2", "ÄbcDef", "Conv3DTranspose", "UpSampling2D"]
    for name in names:
        assert to_snake_case(name) == naming.to_snake_case(name), name
