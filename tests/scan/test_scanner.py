"""scan: every planted danger is found with its exact kind and location; healthy and real-world artifacts are clean."""

from __future__ import annotations

import io
import json
import re
import shutil
import zipfile

import pytest

from tests.conftest import REALWORLD_ARTIFACTS, SAMPLE_ARTIFACTS, SAMPLES, tree_digest

HOSTILE = SAMPLES / "hostile"


def _hostile(name: str):
    path = HOSTILE / name
    if not path.exists():
        pytest.skip(f"{path} not generated (sample_checkpoints/make_hostile.py)")
    return path


def _kinds_and_locations(result) -> list[tuple[str, str, str]]:
    doc = json.loads(result.stdout)
    assert doc["schema"] == "ckptdiff.scan/1"
    return [(f["severity"], f["kind"], f["location"]) for f in doc["findings"]]


def test_lambda_in_legacy_h5(run_cli):
    result = run_cli("scan", str(_hostile("lambda_legacy.h5")), "--format", "json")
    assert result.exit_code == 1, result.stderr
    assert _kinds_and_locations(result) == [("high", "lambda", "model_config: config.layers[2]")]
    detail = json.loads(result.stdout)["findings"][0]["detail"]
    assert re.search(r"Lambda layer 'marker_lambda' carries marshalled Python bytecode, \d+ bytes", detail)


def test_lambda_in_keras_archive(run_cli):
    result = run_cli("scan", str(_hostile("lambda.keras")), "--format", "json")
    assert result.exit_code == 1
    assert _kinds_and_locations(result) == [("high", "lambda", "config.json: config.layers[2]")]
    assert "marshalled Python bytecode" in json.loads(result.stdout)["findings"][0]["detail"]


def test_foreign_module_and_builtin_exec(run_cli):
    result = run_cli("scan", str(_hostile("foreign_module.keras")), "--format", "json")
    assert result.exit_code == 1
    assert _kinds_and_locations(result) == [
        ("high", "foreign-module", "config.json: config.layers[1].config.activation"),
        ("high", "foreign-module", "config.json: config.layers[2].config.activation"),
    ]
    details = [f["detail"] for f in json.loads(result.stdout)["findings"]]
    assert "'system' of module 'os'" in details[0]
    assert "builtin 'exec'" in details[1]


def test_zip_tricks(run_cli):
    result = run_cli("scan", str(_hostile("zip_tricks.keras")), "--format", "json")
    assert result.exit_code == 1
    assert sorted(_kinds_and_locations(result)) == sorted(
        [
            ("high", "path-traversal", "../escape.txt"),
            ("high", "path-traversal", "/abs/evil.txt"),
            ("high", "zip-bomb", "bomb.bin"),
            ("medium", "extra-member", "payload.py"),
        ]
    )


def test_saved_model_ops_reachable_from_signature_and_restored_functions(run_cli):
    result = run_cli("scan", str(_hostile("write_file_saved_model")), "--format", "json")
    assert result.exit_code == 1
    found = _kinds_and_locations(result)
    patterns = [
        ("high", "file-write", r"__inference_serve_\d+/WriteFile"),
        ("high", "py-func", r"__inference_callback_\d+/EagerPyFunc"),
        ("medium", "file-read", r"__inference_peek_\d+/MatchingFiles"),
        ("medium", "file-read", r"__inference_peek_\d+/ReadFile"),
        ("low", "console", r"__inference_serve_\d+/PrintV2"),
        ("info", "asset", r"assets/vocab\.txt"),
    ]
    assert len(found) == len(patterns), found
    for (severity, kind, location), (want_severity, want_kind, pattern) in zip(found, patterns):
        assert (severity, kind) == (want_severity, want_kind)
        assert re.fullmatch(pattern, location), location
    details = {f["location"].split("/")[-1]: f["detail"] for f in json.loads(result.stdout)["findings"]}
    assert "signature 'serving_default'" in details["WriteFile"]
    assert "restored function 'peek'" in details["ReadFile"]
    # the saver's own SaveV2/RestoreV2/MergeV2Checkpoints are expected and not flagged
    assert not any(op in details for op in ("SaveV2", "RestoreV2", "MergeV2Checkpoints"))


@pytest.mark.parametrize("rel", sorted(SAMPLE_ARTIFACTS))
def test_every_healthy_sample_is_clean(run_cli, rel):
    path = SAMPLES / rel
    if not path.exists() and not (SAMPLES / (rel + ".index")).exists():
        pytest.skip(f"sample {rel} not generated")
    before = tree_digest(path if path.exists() else path.parent)
    result = run_cli("scan", str(path))
    assert result.exit_code == 0, result.stdout + result.stderr
    assert "-> CLEAN" in result.stdout
    assert tree_digest(path if path.exists() else path.parent) == before


@pytest.mark.realworld
@pytest.mark.parametrize("rel", sorted(REALWORLD_ARTIFACTS))
def test_every_realworld_artifact_is_clean(run_cli, realworld, rel):
    result = run_cli("scan", str(realworld / rel), "--format", "json")
    assert result.exit_code == 0, result.stdout + result.stderr
    doc = json.loads(result.stdout)
    assert doc["clean"] is True
    assert all(f["severity"] == "info" for f in doc["findings"])


@pytest.mark.realworld
def test_assets_are_info_and_do_not_change_the_exit_status(run_cli, realworld):
    result = run_cli("scan", str(realworld / "tf_serving/saved_model_half_plus_two_cpu/00000123"), "--format", "json")
    assert result.exit_code == 0
    assert _kinds_and_locations(result) == [("info", "asset", "assets/foo.txt")]


def _archive_with(tmp_path, extra: dict[str, bytes]):
    src = SAMPLES / "keras3" / "model.keras"
    if not src.exists():
        pytest.skip("sample keras3/model.keras not generated")
    target = tmp_path / "model.keras"
    shutil.copy(src, target)
    with zipfile.ZipFile(target, "a") as z:
        for name, data in extra.items():
            z.writestr(zipfile.ZipInfo(name), data)
    return target


def test_assets_in_archive_are_info(run_cli, tmp_path):
    target = _archive_with(tmp_path, {"assets/vocab.txt": b"a\nb\n"})
    result = run_cli("scan", str(target), "--format", "json")
    assert result.exit_code == 0
    assert _kinds_and_locations(result) == [("info", "asset", "assets/vocab.txt")]


def test_duplicate_member(run_cli, tmp_path):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about the duplicate name it is asked to write
        target = _archive_with(tmp_path, {"config.json": b"{}"})
    result = run_cli("scan", str(target), "--format", "json")
    assert result.exit_code == 1
    assert ("medium", "duplicate-member", "config.json") in _kinds_and_locations(result)


def test_unusable_input_is_exit_2(run_cli, tmp_path):
    (tmp_path / "x.keras").write_bytes(b"PK\x03\x04 not really a zip")
    result = run_cli("scan", str(tmp_path / "x.keras"))
    assert result.exit_code == 2
    assert result.stderr.startswith("ckptdiff: error: ") and len(result.stderr.strip().splitlines()) == 1
    assert run_cli("scan", str(tmp_path / "missing")).exit_code == 2


def test_table_output_lists_findings_most_severe_first(run_cli):
    result = run_cli("scan", str(_hostile("write_file_saved_model")))
    assert result.exit_code == 1
    lines = [l for l in result.stdout.splitlines() if l.startswith(("high", "medium", "low", "info"))]
    assert [l.split()[0] for l in lines] == ["high", "high", "medium", "medium", "low", "info"]
    assert "summary: high 2, medium 2, low 1, info 1 -> FINDINGS" in result.stdout


def test_scan_does_not_import_tensorflow():
    import subprocess
    import sys

    from tests.conftest import ROOT

    code = (
        "import sys\n"
        "from ckptdiff.cli import main\n"
        "for path in sys.argv[1:]:\n"
        "    try:\n"
        "        main(['scan', path])\n"
        "    except SystemExit:\n"
        "        pass\n"
        "assert 'tensorflow' not in sys.modules, 'scan imported TensorFlow'\n"
    )
    paths = [str(_hostile(n)) for n in ("lambda.keras", "lambda_legacy.h5", "write_file_saved_model")]
    proc = subprocess.run([sys.executable, "-c", code, *paths], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr


def _pack(container, members, packing: str) -> None:
    import tarfile

    if packing == "zip":
        with zipfile.ZipFile(container, "w") as z:
            for path, name in members:
                z.write(path, name) if not isinstance(path, bytes) else z.writestr(name, path)
        return
    with tarfile.open(container, "w:gz" if packing == "tar.gz" else "w") as t:
        for path, name in members:
            if isinstance(path, bytes):
                info = tarfile.TarInfo(name)
                info.size = len(path)
                t.addfile(info, io.BytesIO(path))
            else:
                t.add(path, name)


@pytest.mark.parametrize("packing", ["zip", "tar.gz", "tar"])
def test_artifacts_carried_in_a_container_are_scanned_by_their_own_kind(run_cli, tmp_path, packing):
    """A hostile legacy H5 (a Lambda layer) and a hostile SavedModel (WriteFile ops) packed in a plain zip or tar
    give the findings their own scans give, located inside the container (the oracle: each scanned on its own).
    Before, they were only flagged `unscanned-member`; before that, the container said CLEAN."""
    h5, saved_model = _hostile("lambda_legacy.h5"), _hostile("write_file_saved_model")
    alone_h5 = _kinds_and_locations(run_cli("scan", str(h5), "--format", "json"))
    alone_sm = _kinds_and_locations(run_cli("scan", str(saved_model), "--format", "json"))
    assert any(sev == "high" for sev, _, _ in alone_h5) and any(sev == "high" for sev, _, _ in alone_sm)
    members = [(h5, "model/lambda_legacy.h5")] + [
        (p, f"sm/{p.relative_to(saved_model)}") for p in sorted(saved_model.rglob("*")) if p.is_file()
    ]
    container = tmp_path / f"bundle.{packing}"
    _pack(container, members, packing)
    result = run_cli("scan", str(container), "--format", "json")
    assert result.exit_code == 1, result.stdout
    found = _kinds_and_locations(result)
    expected = [(s, k, f"model/lambda_legacy.h5 -> {loc}") for s, k, loc in alone_h5]
    expected += [(s, k, f"sm -> {loc}") for s, k, loc in alone_sm]
    assert sorted(found) == sorted(expected), found
    scanned = json.loads(result.stdout)["scanned"]
    assert "sm -> saved_model.pb: 1 meta graph(s), 6 functions, 8 roots" in scanned, scanned


@pytest.mark.parametrize("packing", ["zip", "tar"])
def test_a_container_never_passes_clean_with_an_artifact_it_did_not_scan(run_cli, tmp_path, packing):
    """A clean H5 in a container is clean; a pickle, an npz, a frozen GraphDef or an H5 that cannot be read are each
    an `unscanned-member` finding, so the container is never CLEAN for what was not scanned."""
    clean = SAMPLES / "keras2" / "model.h5"
    assert run_cli("scan", str(clean)).exit_code == 0
    container = tmp_path / f"clean.{packing}"
    _pack(container, [(clean, "weights/model.h5")], packing)
    result = run_cli("scan", str(container), "--format", "json")
    assert result.exit_code == 0 and _kinds_and_locations(result) == [], result.stdout
    murky = [
        (clean, "weights/model.h5"),
        (b"\x80\x04K\x01.", "state.pkl"),
        (b"PK\x05\x06" + bytes(18), "arrays.npz"),
        (b"\x0a\x00", "frozen_graph.pb"),
        (b"not an hdf5 file at all", "broken.h5"),
    ]
    container = tmp_path / f"murky.{packing}"
    _pack(container, murky, packing)
    result = run_cli("scan", str(container), "--format", "json")
    assert result.exit_code == 1, result.stdout
    found = _kinds_and_locations(result)
    assert sorted(found) == [
        ("medium", "unscanned-member", name) for name in ("arrays.npz", "broken.h5", "frozen_graph.pb", "state.pkl")
    ], found
    broken = [f for f in json.loads(result.stdout)["findings"] if f["location"] == "broken.h5"]
    assert "cannot be scanned" in broken[0]["detail"] and "ckptdiff-carried" not in broken[0]["detail"]
