"""`check` options and bad model specs, through the real entry point."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.requires_tf

SCOPE = "sample_checkpoints/scenarios/scope_mistake/model.ckpt"
TF1_MODULE = "sample_checkpoints/scenario_models.py:tf1_module"


def _json(result):
    assert "Traceback" not in result.stderr
    return json.loads(result.stdout)


def test_ignore_drops_variables_and_entries_by_glob(run_cli):
    everything = _json(run_cli("check", SCOPE, "--model", TF1_MODULE, "--format", "json"))
    assert everything["summary"]["missing"] == 6
    result = run_cli("check", SCOPE, "--model", TF1_MODULE, "--format", "json", "--ignore", "model_scope/dense_2/*")
    doc = _json(result)
    assert result.exit_code == 1
    assert {v["path"] for v in doc["variables"]} == {
        f"model_scope/{layer}/{w}" for layer in ("dense", "dense_1") for w in ("kernel", "bias")
    }
    assert doc["summary"]["missing"] == 4
    # Ignoring every model variable and the entries they would miss leaves nothing to fail on.
    result = run_cli(
        "check",
        SCOPE,
        "--model",
        TF1_MODULE,
        "--format",
        "json",
        "--ignore",
        "model_scope/*",
        "--ignore",
        "another_scope/*",
    )
    doc = _json(result)
    assert result.exit_code == 0 and doc["ok"] is True
    assert doc["variables"] == [] and all(not u["key"].startswith("another_scope/") for u in doc["unexpected"])


def test_fail_on_unexpected_counts_model_entries_only(run_cli):
    healthy = run_cli(
        "check",
        "sample_checkpoints/tf2",
        "--model",
        "sample_checkpoints/models.py:build_keras3",
        "--fail-on",
        "unexpected",
    )
    assert healthy.exit_code == 0  # 20 optimizer/bookkeeping entries are unexpected, no model entry
    scoped = run_cli("check", SCOPE, "--model", TF1_MODULE, "--fail-on", "unexpected", "--ignore", "model_scope/*")
    assert scoped.exit_code == 1  # the another_scope/ model entries nothing consumes


def test_fail_on_rejects_unknown_statuses(run_cli):
    result = run_cli("check", SCOPE, "--model", TF1_MODULE, "--fail-on", "missing,bogus")
    assert result.exit_code == 2 and "bogus" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "spec,message",
    [
        ("sample_checkpoints/nowhere.py:factory", "no such file"),
        ("sample_checkpoints/models.py", "expected FILE.py:FACTORY"),
        ("sample_checkpoints/models.py:no_such_factory", "has no callable 'no_such_factory'"),
        ("sample_checkpoints/models.py:make_data", "expected a Keras 3 model"),
        ("no_such_package_xyz.module:factory", "cannot import no_such_package_xyz.module"),
        ("sample_checkpoints/keras2/weights_only.h5", "weights-only H5 has no architecture"),
    ],
)
def test_bad_model_spec_is_one_line_exit_2(run_cli, spec, message):
    result = run_cli("check", "sample_checkpoints/tf2", "--model", spec)
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ckptdiff: error: "), result.stderr
    assert message in lines[0]


def test_factory_that_raises_is_reported_not_a_traceback(run_cli, tmp_path):
    factory = tmp_path / "broken.py"
    factory.write_text("def build():\n    raise RuntimeError('boom in the factory')\n")
    result = run_cli("check", "sample_checkpoints/tf2", "--model", f"{factory}:build")
    assert result.exit_code == 2
    assert "the factory raised RuntimeError: boom in the factory" in result.stderr
    assert "Traceback" not in result.stderr
