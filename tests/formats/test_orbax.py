"""Orbax checkpoints (keras.callbacks.OrbaxCheckpoint and a JAX user's CheckpointManager), read with
tensorstore alone, against what the saver was given (EXPECTED.json: every leaf's tree path, shape,
dtype and value hash, recorded by make_format_samples.py from the arrays handed to Orbax)."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("tensorstore", reason="Orbax reading needs the orbax extra (tensorstore)")

from ckptdiff.formats import open_artifact, verify_artifact
from tests.conftest import SAMPLES

ORBAX = SAMPLES / "formats" / "orbax"
EXPECTED = json.loads((SAMPLES / "formats" / "EXPECTED.json").read_text())["artifacts"]
ARRAY_ITEM = {"keras_callback": "pytree", "jax_user": "state"}


def _steps():
    for root, item in ARRAY_ITEM.items():
        for step in EXPECTED[f"orbax/{root}"]["steps"]:
            yield root, step, item


@pytest.mark.parametrize("root,step,item", list(_steps()))
def test_every_leaf_is_what_the_saver_was_given(root, step, item):
    expected = {e["key"]: e for e in EXPECTED[f"orbax/{root}"]["steps"][step][item]}
    with open_artifact(ORBAX / root / step) as artifact:
        assert artifact.format == "orbax"
        got = {e.key.removeprefix(f"{item}/"): e for e in artifact.entries}
        assert set(got) == set(expected)
        for key, want in expected.items():
            entry = got[key]
            assert list(entry.shape) == want["shape"] and entry.dtype == want["dtype"], key
            value = entry.read()
            assert hashlib.sha256(np.ascontiguousarray(value).tobytes()).hexdigest() == want["sha256"], key
            chunks = list(entry.source.iter_chunks(max_elements=7))
            assert np.array_equal(np.concatenate(chunks) if chunks else np.array([]), value.reshape(-1)), key


def test_the_root_opens_its_latest_step_and_says_so(run_cli):
    result = run_cli("inspect", str(ORBAX / "keras_callback"), "--no-stats", "--format", "json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["artifact"]["resolved"].endswith("keras_callback/1")
    assert any("Orbax root: step 1, the latest (also 0)" in n for n in doc["artifact"]["notes"])
    groups = {t["key"]: t["group"] for t in doc["tensors"]}
    assert groups["pytree/trainable_variables.mlp.dense.kernel"] == "model"
    assert groups["pytree/optimizer_variables.adam.mlp_dense_kernel_momentum"] == "optimizer"
    assert groups["pytree/metrics_variables.loss.total"] == "bookkeeping"


def test_diff_of_two_steps_finds_exactly_the_leaves_whose_saved_values_differ(run_cli):
    a, b = (EXPECTED["orbax/jax_user"]["steps"][s]["state"] for s in ("1", "2"))
    changed = {x["key"] for x, y in zip(a, b, strict=True) if x["sha256"] != y["sha256"]}
    assert changed, "the fixture trains between steps"
    result = run_cli("diff", str(ORBAX / "jax_user/1"), str(ORBAX / "jax_user/2"), "--format", "json")
    doc = json.loads(result.stdout)
    assert result.exit_code == 1
    assert doc["outcome"] == "different" and doc["alignment"] == {"object-path": len(a)}
    differing = {r["key_a"].removeprefix("state/") for r in doc["tensors"] if r["status"] != "same"}
    assert differing == changed


def test_verify_reads_every_array_and_damage_is_one_line(run_cli, tmp_path):
    result = run_cli("inspect", str(ORBAX / "jax_user/2"), "--verify", "--no-stats", "--format", "json")
    assert result.exit_code == 0
    with open_artifact(ORBAX / "jax_user/2") as artifact:
        report = verify_artifact(artifact)
    assert report.ok and report.checked == len(EXPECTED["orbax/jax_user"]["steps"]["2"]["state"])
    copy = tmp_path / "2"
    shutil.copytree(ORBAX / "jax_user/2", copy)
    for data in (*(copy / "state/d").iterdir(), *(copy / "state/ocdbt.process_0/d").iterdir()):
        raw = bytearray(data.read_bytes())
        raw[len(raw) // 2] ^= 0xFF
        data.write_bytes(bytes(raw))
    damaged = run_cli("inspect", str(copy), "--verify")
    assert damaged.exit_code == 2 and "CRC-32C checksum verification failed" in damaged.stderr
    assert len(damaged.stderr.strip().splitlines()) == 1 and "tensorstore_spec" not in damaged.stderr


def test_reading_imports_neither_jax_nor_tensorflow():
    code = (
        "import sys; from ckptdiff.formats import open_artifact\n"
        f"a = open_artifact({str(ORBAX / 'jax_user/2')!r}); [e.read() for e in a.entries]\n"
        "print(sorted({'jax', 'orbax', 'keras', 'tensorflow'} & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_check_of_a_jax_users_checkpoint_is_refused_in_one_line(run_cli):
    result = run_cli(
        "check", str(ORBAX / "jax_user/2"), "--model", "sample_checkpoints/scenario_models.py:saved_keras3_mlp"
    )
    assert result.exit_code == 2
    assert "no 'pytree' checkpointable, so not written by keras.callbacks.OrbaxCheckpoint" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_damaged_metadata_is_one_line(run_cli, tmp_path):
    copy = tmp_path / "2"
    shutil.copytree(ORBAX / "jax_user/2", copy)
    (copy / "state/_METADATA").write_text("{not json")
    result = run_cli("inspect", str(copy))
    assert result.exit_code == 2 and "_METADATA is not a readable JSON file" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_without_tensorstore_the_error_says_what_to_install():
    code = (
        "import sys; sys.modules['tensorstore'] = None\n"
        "from ckptdiff.cli import main\n"
        f"main(['inspect', {str(ORBAX / 'jax_user/2')!r}])"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 2
    assert (
        done.stderr.strip()
        == "ckptdiff: error: reading Orbax checkpoints needs tensorstore: pip install 'ckptdiff[orbax]'"
    )


def _real_keras3_load_weights(spec):
    """Real Keras 3 `model.load_weights(<abs Orbax root>)` into the factory's model, every variable first set to a
    sentinel: {variable.path: restored value, or None when Keras left it alone}."""
    pytest.importorskip("orbax.checkpoint", reason="the real loader needs orbax-checkpoint (dev extra)")
    from tests.match.oracle import build_live

    model = build_live(spec)
    variables = [*model.weights, *model.optimizer.variables]
    for v in variables:
        v.assign(np.full(v.shape, 7777, dtype=v.dtype))
    model.load_weights(str((ORBAX / "keras_callback").resolve()))
    values = {str(v.path): np.asarray(v.numpy()) for v in variables}
    return {path: (None if np.all(value == 7777) else value) for path, value in values.items()}


@pytest.mark.parametrize(
    "factory,restored_count",
    [("keras3_mlp_for_orbax", 28), ("renamed_keras3_mlp_for_orbax", 2)],
)
def test_check_agrees_with_keras3_load_weights_variable_by_variable(run_cli, factory, restored_count):
    """Keras 3 assigns state-tree leaves by exact variable.path and silently skips the rest: a model under
    another name gets only the optimizer's iteration and learning_rate (docs/formats-research.md, section 5)."""
    spec = f"sample_checkpoints/scenario_models.py:{factory}"
    real = _real_keras3_load_weights(spec)
    doc = json.loads(run_cli("check", str(ORBAX / "keras_callback"), "--model", spec, "--format", "json").stdout)
    matched = {}
    for finding in doc["variables"]:
        if finding["status"] == "matched":
            _, path = finding["key"].removeprefix("pytree/").split(".", 1)
            matched[path.replace(".", "/")] = finding["key"]
        else:
            assert finding["status"] == "missing", finding
    restored = {path for path, value in real.items() if value is not None}
    assert set(matched) == restored and len(restored) == restored_count
    assert len(doc["variables"]) == len(real) == 28
    with open_artifact(ORBAX / "keras_callback") as artifact:
        stored = artifact.by_key
        for path, key in matched.items():
            assert np.array_equal(real[path], stored[key].read().astype(real[path].dtype)), path
    assert doc["ok"] is (restored_count == 28)
