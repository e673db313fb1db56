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


# --fail-on adds to the defaults, --allow removes (issue: a gate must never pass by replacing them) -----------

DEFAULTS = ["missing", "shape_mismatch", "dtype_mismatch", "partial", "fresh", "nonfinite", "misplaced"]


def test_fail_on_adds_to_the_defaults(run_cli):
    """`--fail-on nonfinite` once replaced the defaults: 6 missing variables passed the gate."""
    result = run_cli("check", SCOPE, "--model", TF1_MODULE, "--fail-on", "nonfinite", "--format", "json")
    doc = _json(result)
    assert doc["summary"]["missing"] == 6
    assert result.exit_code == 1 and doc["ok"] is False
    assert doc["fail_on"] == DEFAULTS


def test_fail_on_repeats_accumulate_and_allow_removes(run_cli):
    """Only the last --fail-on used to count; now repeats and comma lists add up, and --allow wins."""
    repeated = _json(
        run_cli(
            "check", SCOPE, "--model", TF1_MODULE, "--fail-on", "unexpected", "--fail-on", "fresh", "--format", "json"
        )
    )
    assert repeated["fail_on"] == [
        "missing",
        "shape_mismatch",
        "dtype_mismatch",
        "partial",
        "unexpected",
        "fresh",
        "nonfinite",
        "misplaced",
    ]
    allowed = run_cli("check", SCOPE, "--model", TF1_MODULE, "--allow", "missing,partial", "--format", "json")
    doc = _json(allowed)
    assert doc["fail_on"] == ["shape_mismatch", "dtype_mismatch", "fresh", "nonfinite", "misplaced"]
    assert allowed.exit_code == 0 and doc["ok"] is True  # everything missing, and missing allowed
    both = _json(
        run_cli("check", SCOPE, "--model", TF1_MODULE, "--fail-on", "missing", "--allow", "missing", "--format", "json")
    )
    assert "missing" not in both["fail_on"]


def test_effective_fail_on_is_printed(run_cli):
    table = run_cli("check", SCOPE, "--model", TF1_MODULE, "--allow", "fresh").stdout
    assert table.rstrip().endswith(
        "-> FAIL (fail-on: missing,shape_mismatch,dtype_mismatch,partial,nonfinite,misplaced)"
    )


def test_cli_spellings_agree_with_the_library():
    """The CLI spells statuses and groups itself so that --help imports no numpy; they must not drift."""
    from ckptdiff import cli
    from ckptdiff.artifact import Group
    from ckptdiff.commands.check import DEFAULT_FAIL_ON, FAIL_ON_CHOICES

    assert cli.FAIL_ON_CHOICES == FAIL_ON_CHOICES
    assert tuple(Group) == cli.GROUP_NAMES
    assert set(DEFAULT_FAIL_ON) <= set(FAIL_ON_CHOICES)


def test_bad_option_value_is_one_line(run_cli):
    result = run_cli("check", SCOPE, "--model", TF1_MODULE, "--format", "yaml")
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("ckptdiff: error: ")
    assert "'yaml' is not one of" in result.stderr and "ckptdiff check --help" in result.stderr


# --output FILE ------------------------------------------------------------------------------------------


def test_output_writes_the_report_to_a_file(run_cli, tmp_path):
    target = tmp_path / "report.json"
    result = run_cli("check", SCOPE, "--model", TF1_MODULE, "--format", "json", "--output", str(target))
    assert result.exit_code == 1 and result.stdout == ""
    assert json.loads(target.read_text())["summary"]["missing"] == 6
    scan_target = tmp_path / "scan.txt"
    assert run_cli("scan", "sample_checkpoints/tf2", "-o", str(scan_target)).exit_code == 0
    assert "clean" in scan_target.read_text().lower()


def test_output_never_overwrites_the_artifact(run_cli, tmp_path):
    import shutil

    copy = tmp_path / "model.weights.h5"
    shutil.copy("sample_checkpoints/keras3/model.weights.h5", copy)
    before = copy.read_bytes()
    result = run_cli("inspect", str(copy), "--output", str(copy))
    assert result.exit_code == 2 and "is the artifact itself" in result.stderr
    assert copy.read_bytes() == before
