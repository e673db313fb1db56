"""Remote artifacts answer exactly as local ones: every format through a real S3 API (moto's server mode) and an
HTTP server with Range support, both on loopback. The oracle is ckptdiff's own answer on the local copy, which
the format tests check against TensorFlow's reader, h5py and tensorstore."""

from __future__ import annotations

import json

import pytest

from tests.conftest import SAMPLES
from tests.remote.conftest import BUCKET

FORMATS = {
    "tf2 checkpoint (state file)": "tf2",
    "tf2 checkpoint prefix": "tf2/ckpt-1",
    "tf2 sharded checkpoint": "tf2_sharded",
    "tf1 name-based checkpoint": "tf1/model.ckpt",
    "tf v1 checkpoint (TensorFlow reader, local copy)": "tf1_v1/model.ckpt",
    "saved model": "saved_model",
    "keras 2 legacy h5": "keras2/model.h5",
    "keras 3 legacy h5": "keras3/legacy.h5",
    "keras 3 .weights.h5": "keras3/model.weights.h5",
    "keras 3 .keras": "keras3/model.keras",
    "keras 2.13 .keras": "formats/keras213/model.keras",
    "sharded .weights.json": "formats/sharded/model.weights.json",
    "keras npz archive": "formats/npz/model.keras",
    "model directory": "formats/model_dir",
    "keras_hub preset": "formats/hub_preset/bert_tiny",
    "orbax step": "formats/orbax/keras_callback/1",
}


def _normalise(doc: dict, remote: str, local: str) -> str:
    return json.dumps(doc, sort_keys=True).replace(remote, "<ROOT>").replace(local, "<ROOT>")


def _inspect(run_cli, path: str, *extra: str) -> tuple[int, dict]:
    result = run_cli("inspect", path, "--format", "json", *extra)
    assert result.stdout, result.stderr
    return result.exit_code, json.loads(result.stdout)


@pytest.mark.parametrize("label", list(FORMATS))
def test_s3_inspect_with_verify_equals_local(run_cli, s3, label):
    rel = FORMATS[label]
    if rel.startswith("formats/orbax"):
        pytest.importorskip("tensorstore", reason="Orbax reading needs the orbax extra (tensorstore)")
    local = str(SAMPLES / rel)
    remote = f"s3://{BUCKET}/{rel}"
    code_l, doc_l = _inspect(run_cli, local, "--verify")
    code_r, doc_r = _inspect(run_cli, remote, "--verify")
    assert code_r == code_l == 0
    assert doc_r["tensors"] or label == "keras npz archive", label  # Keras' npz store pickles: nothing read
    assert _normalise(doc_r, f"s3://{BUCKET}", str(SAMPLES)) == _normalise(doc_l, f"s3://{BUCKET}", str(SAMPLES))


@pytest.mark.parametrize(
    "rel", ["tf2/ckpt-1", "keras3/model.weights.h5", "keras3/model.keras", "formats/sharded/model.weights.json"]
)
def test_https_inspect_equals_local(run_cli, http_server, rel):
    local = str(SAMPLES / rel)
    remote = f"{http_server.url}/{rel}"
    _, doc_l = _inspect(run_cli, local, "--verify")
    _, doc_r = _inspect(run_cli, remote, "--verify")
    assert _normalise(doc_r, http_server.url, str(SAMPLES)) == _normalise(doc_l, http_server.url, str(SAMPLES))


def test_index_only_inspect_fetches_the_index_alone(run_cli, http_server):
    """With --no-stats, of the data shard only the object-graph tensor's bytes are fetched (the index says
    where they are); no variable's bytes are."""
    from ckptdiff.formats import open_artifact

    with open_artifact(str(SAMPLES / "tf2" / "ckpt-1")) as local:
        graph = local.entry("_CHECKPOINTABLE_OBJECT_GRAPH").nbytes
        variables = sum(e.nbytes or 0 for e in local.entries) - graph
    http_server.log.reset()
    code, _ = _inspect(run_cli, f"{http_server.url}/tf2/ckpt-1", "--no-stats")
    assert code == 0
    served = http_server.log.bytes_by_path
    assert served["/tf2/ckpt-1.data-00000-of-00001"] == graph < graph + variables
    assert served["/tf2/ckpt-1.index"] <= 2 * (SAMPLES / "tf2" / "ckpt-1.index").stat().st_size


def test_check_diff_scan_and_history_take_urls(run_cli, s3):
    model = str(SAMPLES / "models.py") + ":build_keras3"
    local = run_cli("check", str(SAMPLES / "tf2"), "--model", model, "--format", "json")
    remote = run_cli("check", f"s3://{BUCKET}/tf2", "--model", model, "--format", "json")
    assert remote.exit_code == local.exit_code
    strip = [("artifact", "path"), ("artifact", "resolved")]
    a, b = json.loads(local.stdout), json.loads(remote.stdout)
    for part, key in strip:
        a[part][key] = b[part][key] = ""
    a["artifact"]["notes"] = b["artifact"]["notes"] = []
    assert a == b
    same = run_cli("diff", str(SAMPLES / "keras3" / "model.keras"), f"s3://{BUCKET}/keras3/model.keras")
    assert same.exit_code == 0 and "IDENTICAL" in same.stdout
    scan = run_cli("scan", f"s3://{BUCKET}/attacks/lambda_loss_training_config.h5", "--format", "json")
    assert scan.exit_code == run_cli("scan", str(SAMPLES / "attacks" / "lambda_loss_training_config.h5")).exit_code
    history = run_cli("history", f"s3://{BUCKET}/history/epochs", "--format", "json")
    assert [c["step"] for c in json.loads(history.stdout)["checkpoints"]] == [1, 2, 3, 4]


@pytest.mark.parametrize(
    "path,words",
    [
        ("s3://{bucket}/no/such/ckpt", "no such file"),
        ("s3://no-such-bucket-ckptdiff/ckpt", "no such file"),
        ("{http}/forbidden/tf2/ckpt-1.index", "access denied (403)"),
        ("{http}/nothing/here.h5", "no such file"),
    ],
)
def test_errors_are_one_line(run_cli, s3, http_server, path, words):
    result = run_cli("inspect", path.format(bucket=BUCKET, http=http_server.url))
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert words in lines[0], lines[0]


def test_transient_errors_are_retried(run_cli, http_server):
    """/flaky/ answers 503 to the first two GETs of each file: the retries hide it."""
    local = str(SAMPLES / "keras3" / "model.weights.h5")
    _, doc_l = _inspect(run_cli, local)
    _, doc_r = _inspect(run_cli, f"{http_server.url}/flaky/keras3/model.weights.h5")
    assert doc_r["tensors"] == doc_l["tensors"]


def test_timeouts_are_one_line(run_cli, http_server):
    result = run_cli(
        "--storage-option",
        "client_kwargs.timeout=null",
        "--storage-option",
        "timeout=0.5",
        "inspect",
        f"{http_server.url}/slow/keras3/model.weights.h5",
    )
    assert result.exit_code == 2, result.stdout
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


def test_nothing_is_written_to_the_store(run_cli, s3):
    client = s3.client()
    before = {o["Key"]: o["ETag"] for o in client.list_objects_v2(Bucket=BUCKET)["Contents"]}
    run_cli("inspect", f"s3://{BUCKET}/tf2", "--verify")
    run_cli("scan", f"s3://{BUCKET}/keras3/model.keras")
    after = {o["Key"]: o["ETag"] for o in client.list_objects_v2(Bucket=BUCKET)["Contents"]}
    assert after == before
