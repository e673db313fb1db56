"""`check` of the real-world Keras files against their own stored architecture (rebuilt in safe mode)."""

from __future__ import annotations

import json

import h5py
import pytest

pytestmark = [pytest.mark.requires_tf, pytest.mark.realworld]


def _weights_in_h5(path, root: str) -> int:
    """The oracle: how many weight datasets the file stores under its model-weights root (h5py)."""
    count = 0
    with h5py.File(path, "r") as f:
        stack = [f[root]]
        while stack:
            group = stack.pop()
            for item in group.values():
                if isinstance(item, h5py.Dataset):
                    count += 1
                else:
                    stack.append(item)
    return count


@pytest.mark.parametrize(
    "rel,root,matched",
    [
        ("keras3_mnist/mnist_model.h5", "model_weights", 6),
        ("keras2_face/gender_mini_XCEPTION.21-0.95.hdf5", "model_weights", 80),
    ],
)
def test_legacy_h5_checks_clean_against_its_own_architecture(run_cli, realworld, rel, root, matched):
    path = realworld / rel
    result = run_cli("check", str(path), "--model", str(path), "--format", "json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["loader"]["name"] == "h5-order"
    assert doc["summary"]["matched"] == matched == _weights_in_h5(path, root)
    assert doc["summary"]["missing"] == 0 and doc["partial"] == []
    assert {u["group"] for u in doc["unexpected"]} <= {"optimizer"}


def test_keras_archive_checks_clean_against_its_own_architecture(run_cli, realworld):
    path = realworld / "keras3_mnist/mnist_model.keras"
    result = run_cli("check", str(path), "--model", str(path), "--format", "json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["loader"]["name"] == "keras3"
    # 6 layer weights and the 14 Adam variables the archive stores (iterations, learning rate, 2 x 6 moments).
    assert doc["summary"]["matched"] == 20 and doc["summary"]["missing"] == 0 and doc["unexpected"] == []
    assert any("seed_generator_state" in note for note in doc["loader"]["notes"])
    # Trained weights: none of the restored model weights looks freshly initialised.
    assert doc["summary"]["fresh"] == 0
