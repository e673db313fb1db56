"""A diff that compared nothing, or too little, never says IDENTICAL (exit 1, with the reason)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.conftest import SAMPLES


def _diff(run_cli, a, b, *extra):
    result = run_cli("diff", str(a), str(b), "--format", "json", *extra)
    assert "Traceback" not in result.stderr
    return result.exit_code, json.loads(result.stdout)


def test_unrelated_artifacts_compare_nothing(run_cli):
    code, doc = _diff(run_cli, SAMPLES / "tf1/model.ckpt", SAMPLES / "keras3/model.weights.h5")
    assert code == 1
    assert doc["outcome"] == "nothing-compared" and doc["identical"] is False
    assert doc["summary"]["same"] == doc["summary"]["changed"] == 0
    assert doc["alignments_tried"] == [
        "object path",
        "key",
        "object path one level deeper or shallower",
        "layer name and weight position",
    ]
    [note] = [n for n in doc["notes"] if n.startswith("nothing compared")]
    assert "--model SPEC" in note


def test_nothing_compared_table_says_so(run_cli):
    result = run_cli("diff", str(SAMPLES / "tf1/model.ckpt"), str(SAMPLES / "keras3/model.weights.h5"))
    assert result.exit_code == 1
    assert result.stdout.rstrip().endswith("-> NOTHING COMPARED")
    assert "IDENTICAL" not in result.stdout


@pytest.mark.requires_tf
def test_checkpoint_against_keras_archive_aligns_only_through_the_model(run_cli, tf):
    """The same trained model as a TF2 checkpoint and a .keras: no path scheme applies, --model does."""
    code, doc = _diff(run_cli, SAMPLES / "tf2", SAMPLES / "keras3/model.keras")
    assert code == 1 and doc["outcome"] == "nothing-compared"
    code, doc = _diff(
        run_cli, SAMPLES / "tf2", SAMPLES / "keras3/model.keras", "--model", "sample_checkpoints/models.py:build_keras3"
    )
    assert code == 0 and doc["outcome"] == "identical" and doc["alignments_tried"] == ["model"]
    # Oracle: TensorFlow's reader and h5py agree the ten model tensors are the same values.
    import zipfile

    import h5py

    reader = tf.train.load_checkpoint(str(SAMPLES / "tf2"))
    with zipfile.ZipFile(SAMPLES / "keras3/model.keras") as z, z.open("model.weights.h5") as member:
        import io

        with h5py.File(io.BytesIO(member.read()), "r") as h5:
            for t in doc["tensors"]:
                if t["status"] == "same":
                    assert np.array_equal(reader.get_tensor(t["key_a"]), h5[t["key_b"]][()]), t["key_a"]


@pytest.mark.requires_tf
def test_mostly_unaligned_is_flagged(run_cli, tmp_path, tf):
    """A 4-layer model against a 1-layer model holding the first layer's weights: 2 pairs, both the same,
    and 6 model entries of A without a counterpart. That is not IDENTICAL."""
    import keras

    big = keras.Sequential([keras.Input((4,)), *(keras.layers.Dense(4) for _ in range(4))])
    small = keras.Sequential([keras.Input((4,)), keras.layers.Dense(4)])
    small.layers[0].set_weights(big.layers[0].get_weights())
    big.save_weights(tmp_path / "big.weights.h5")
    small.save_weights(tmp_path / "small.weights.h5")
    code, doc = _diff(run_cli, tmp_path / "big.weights.h5", tmp_path / "small.weights.h5")
    assert code == 1 and doc["outcome"] == "mostly-unaligned"
    assert doc["summary"]["same"] == 2 and doc["summary"]["changed"] == 0 and doc["summary"]["only_in_a"] == 6
    assert any(n.startswith("mostly unaligned: 6 model entries of A and 0 of B") for n in doc["notes"])
