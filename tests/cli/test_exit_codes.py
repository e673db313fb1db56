"""Unusable input: one line on stderr naming the file, exit status 2, no traceback, nothing modified."""

from __future__ import annotations

import zipfile

from tests.conftest import copy_sample, tree_digest


def _assert_one_line_error(result, must_name: str) -> None:
    assert result.exit_code == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("ckptdiff: error: "), lines[0]
    assert must_name in lines[0]
    assert "Traceback" not in result.stderr
    assert "internal error" not in result.stderr


def test_missing_path(run_cli, tmp_path):
    _assert_one_line_error(run_cli("inspect", str(tmp_path / "nope")), "nope")


def test_empty_directory(run_cli, tmp_path):
    _assert_one_line_error(run_cli("inspect", str(tmp_path)), "empty directory")


def test_zero_length_file(run_cli, tmp_path):
    f = tmp_path / "weights.bin"
    f.write_bytes(b"")
    _assert_one_line_error(run_cli("inspect", str(f)), "weights.bin")


def test_text_file_named_h5(run_cli, tmp_path):
    f = tmp_path / "model.h5"
    f.write_text("not an hdf5 file\n")
    _assert_one_line_error(run_cli("inspect", str(f)), "model.h5")


def test_text_file_named_index(run_cli, tmp_path):
    f = tmp_path / "ckpt.index"
    f.write_text("this is no table" * 10)
    before = tree_digest(tmp_path)
    _assert_one_line_error(run_cli("inspect", str(f)), "ckpt.index")
    assert tree_digest(tmp_path) == before


def test_zip_that_is_not_a_keras_archive(run_cli, tmp_path):
    f = tmp_path / "model.keras"
    with zipfile.ZipFile(f, "w") as z:
        z.writestr("readme.txt", "hello")
    _assert_one_line_error(run_cli("inspect", str(f)), "model.keras")


def test_missing_data_shard(run_cli, tmp_path):
    folder = copy_sample("tf1", tmp_path)
    for shard in folder.glob("model.ckpt.data-*"):
        shard.unlink()
    _assert_one_line_error(run_cli("inspect", str(folder / "model.ckpt")), "data-00000-of-00001")


def test_truncated_data_shard(run_cli, tmp_path):
    folder = copy_sample("tf1", tmp_path)
    shard = next(folder.glob("model.ckpt.data-*"))
    shard.write_bytes(shard.read_bytes()[:-9])
    before = tree_digest(folder)
    result = run_cli("inspect", str(folder / "model.ckpt"))
    _assert_one_line_error(result, shard.name)
    assert "truncated" in result.stderr
    assert tree_digest(folder) == before


def test_state_file_naming_a_checkpoint_that_is_gone(run_cli, tmp_path):
    (tmp_path / "checkpoint").write_text('model_checkpoint_path: "ckpt-9"\n')
    _assert_one_line_error(run_cli("inspect", str(tmp_path)), "ckpt-9")


def test_unknown_option_is_a_usage_error(run_cli, tmp_path):
    result = run_cli("inspect", str(tmp_path), "--format", "yaml")
    assert result.exit_code == 2
    assert "Traceback" not in result.stderr
