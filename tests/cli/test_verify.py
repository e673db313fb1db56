"""--verify: damaged tensors are rows named by key (exit 1), structural damage is exit 2 at open, healthy files pass."""

from __future__ import annotations

import json
import shutil
import struct
import zipfile
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import REALWORLD_ARTIFACTS, SAMPLE_ARTIFACTS, SAMPLES, copy_sample, tree_digest
from tests.fuzz.bundle_writer import CraftedEntry, float_entry, write_bundle

KERNEL = "optimizer/_trainable_variables/4/.ATTRIBUTES/VARIABLE_VALUE"


def _flip_inside(prefix: str, key: str, delta: int = 100) -> Path:
    from ckptdiff.formats import open_artifact

    with open_artifact(prefix) as art:
        entry = art.entry(key)
        offset = entry.source.offset
    shard = Path(prefix + ".data-00000-of-00001")
    data = bytearray(shard.read_bytes())
    data[offset + delta] ^= 0x10
    shard.write_bytes(bytes(data))
    return shard


def test_one_flipped_byte_is_found_and_named(run_cli, tmp_path):
    folder = copy_sample("tf2", tmp_path)
    _flip_inside(str(folder / "ckpt-2"), KERNEL)
    before = tree_digest(folder)
    plain = run_cli("inspect", str(folder), "--no-stats")
    assert plain.exit_code == 0  # the structure is intact: only --verify reads the checksums
    result = run_cli("inspect", str(folder), "--verify", "--no-stats", "--format", "json")
    assert result.exit_code == 1, result.stderr
    integrity = json.loads(result.stdout)["integrity"]
    assert integrity["ok"] is False and integrity["method"] == "crc32c" and integrity["checked"] == 30
    assert [(p["key"], p["kind"]) for p in integrity["problems"]] == [(KERNEL, "crc-mismatch")]
    table = run_cli("inspect", str(folder), "--verify", "--no-stats")
    assert table.exit_code == 1
    assert KERNEL in table.stdout and "crc-mismatch" in table.stdout
    assert tree_digest(folder) == before


@pytest.mark.requires_tf
def test_tensorflow_reader_agrees_on_the_flipped_tensor(tf, tmp_path):
    """Oracle: TensorFlow's own reader refuses exactly the tensor --verify names, and reads the others."""
    from ckptdiff.formats import open_artifact, verify_artifact

    folder = copy_sample("tf2", tmp_path)
    _flip_inside(str(folder / "ckpt-2"), KERNEL)
    with open_artifact(folder) as art:
        named = {p.key for p in verify_artifact(art).problems}
        keys = [e.key for e in art.entries]
    reader = tf.train.load_checkpoint(str(folder / "ckpt-2"))
    refused = set()
    for key in keys:
        try:
            reader.get_tensor(key)
        except Exception:  # DataLossError: "Checksum does not match"
            refused.add(key)
    assert refused == named == {KERNEL}


@pytest.mark.parametrize("rel", ["tf2_sharded/ckpt", "tf1/model.ckpt", "saved_model", "tf_weights/ckpt"])
def test_flip_in_every_bundle_kind(run_cli, tmp_path, rel):
    from ckptdiff.formats.tf_bundle import read_bundle_index, shard_path
    from ckptdiff.storage import locate

    top = rel.split("/")[0]
    copy_sample("keras2/tf_weights" if top == "tf_weights" else top, tmp_path)
    target = tmp_path / rel
    prefix = target / "variables" / "variables" if rel == "saved_model" else target
    index = read_bundle_index(locate(prefix), str(target))
    num_shards, stored = index.num_shards, index.stored
    victim = next(e for e in stored if e.size >= 8 and e.dtype_enum == 1 and e.shard_id == num_shards - 1)
    shard = Path(shard_path(locate(prefix), victim.shard_id, num_shards))
    data = bytearray(shard.read_bytes())
    data[victim.offset + 3] ^= 0x01
    shard.write_bytes(bytes(data))
    result = run_cli("inspect", str(target), "--verify", "--no-stats", "--format", "json")
    assert result.exit_code == 1, result.stderr
    problems = json.loads(result.stdout)["integrity"]["problems"]
    assert [(p["kind"]) for p in problems] == ["crc-mismatch"]
    assert victim.key in problems[0]["key"] or problems[0]["key"] == victim.key


def test_truncated_shard_is_named_at_open(run_cli, tmp_path):
    folder = copy_sample("tf1", tmp_path)
    shard = next(folder.glob("model.ckpt.data-*"))
    shard.write_bytes(shard.read_bytes()[:-9])
    result = run_cli("inspect", str(folder / "model.ckpt"), "--verify")
    assert result.exit_code == 2
    assert shard.name in result.stderr and "truncated" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_overlapping_index_entries_are_rows(run_cli, tmp_path):
    values = np.arange(10, dtype="<f4").tobytes()
    write_bundle(
        tmp_path / "ckpt",
        [
            float_entry("a", values[:24], 0, (6,)),
            float_entry("b", values[8:24], 8, (4,)),
            float_entry("c", values[24:], 24, (4,)),
        ],
        values,
    )
    result = run_cli("inspect", str(tmp_path / "ckpt"), "--verify", "--format", "json")
    assert result.exit_code == 1
    problems = json.loads(result.stdout)["integrity"]["problems"]
    assert [(p["key"], p["kind"]) for p in problems] == [("b", "overlap")]
    assert "'a'" in problems[0]["detail"]


def test_ten_to_the_twelve_elements_in_an_index_is_refused_before_reading(run_cli, tmp_path):
    import tracemalloc

    write_bundle(tmp_path / "big", [CraftedEntry("a", (10**6, 10**6), 0, 4 * 10**12, 0)], b"\0" * 64)
    write_bundle(tmp_path / "liar", [CraftedEntry("a", (10**6, 10**6), 0, 64, 0)], b"\0" * 64)
    tracemalloc.start()
    try:
        big = run_cli("inspect", str(tmp_path / "big"), "--verify")
        liar = run_cli("inspect", str(tmp_path / "liar"), "--verify")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert big.exit_code == 2 and "truncated" in big.stderr and "4000000000000" in big.stderr
    assert liar.exit_code == 2 and "expected 4000000000000" in liar.stderr
    assert peak < 64 << 20


def test_ten_to_the_twelve_elements_in_an_h5_dataset_is_refused_before_reading(run_cli, tmp_path):
    import tracemalloc

    import h5py

    for layout, kwargs in (("contiguous", {}), ("chunked", {"chunks": (1000, 1000)})):
        path = tmp_path / f"{layout}.h5"
        with h5py.File(path, "w") as f:
            f.attrs["layer_names"] = np.array([b"dense"])
            f.attrs["keras_version"] = b"2.15.0"
            f.attrs["backend"] = b"tensorflow"
            group = f.create_group("dense")
            group.attrs["weight_names"] = np.array([b"dense/kernel:0"])
            group.create_dataset("dense/kernel:0", shape=(10**6, 10**6), dtype="f4", **kwargs)
        tracemalloc.start()
        try:
            result = run_cli("inspect", str(path))
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert result.exit_code == 2, (layout, result.stdout, result.stderr)
        assert "dense/dense/kernel:0" in result.stderr and "4000000000000 bytes" in result.stderr
        assert peak < 64 << 20


def test_truncated_h5_file_is_refused_at_open(run_cli, tmp_path):
    import h5py

    path = tmp_path / "cut.h5"
    with h5py.File(path, "w") as f:
        f.attrs["layer_names"] = np.array([b"dense"])
        group = f.create_group("dense")
        group.attrs["weight_names"] = np.array([b"kernel:0"])
        group.create_dataset("kernel:0", data=np.ones((256, 256), "f4"))
        offset = f["dense/kernel:0"].id.get_offset()
    data = path.read_bytes()
    path.write_bytes(data[: offset + 1000])
    result = run_cli("inspect", str(path), "--verify")
    assert result.exit_code == 2
    assert "cut.h5" in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_keras_member_that_disagrees_with_its_directory(run_cli, tmp_path):
    target = copy_sample("keras3/model.keras", tmp_path)
    with zipfile.ZipFile(target) as z:
        info = z.getinfo("model.weights.h5")
        local_extra = struct.unpack_from("<H", target.read_bytes(), info.header_offset + 28)[0]
        start = info.header_offset + 30 + len(info.filename.encode()) + local_extra
    import io

    import h5py

    data = bytearray(target.read_bytes())
    with h5py.File(io.BytesIO(bytes(data[start : start + info.file_size])), "r") as h5:
        kernel = h5["layers/dense_1/vars/0"].id.get_offset()
    data[start + kernel + 10] ^= 0xFF  # a byte of a kernel inside the stored member: its CRC-32 no longer holds
    target.write_bytes(bytes(data))
    result = run_cli("inspect", str(target), "--verify", "--no-stats", "--format", "json")
    assert result.exit_code == 1, result.stderr
    problems = json.loads(result.stdout)["integrity"]["problems"]
    assert [(p["key"], p["kind"]) for p in problems] == [("model.weights.h5", "zip-member")]
    assert "CRC" in problems[0]["detail"]


def test_local_header_name_mismatch(run_cli, tmp_path):
    """The reader finds the weights member through the central directory; --verify notices its local header disagrees."""
    target = copy_sample("keras3/model.keras", tmp_path)
    data = bytearray(target.read_bytes())
    with zipfile.ZipFile(target) as z:
        info = z.getinfo("model.weights.h5")
    name_at = info.header_offset + 30
    assert data[name_at : name_at + 16] == b"model.weights.h5"
    data[name_at : name_at + 16] = b"model.weights.H5"
    target.write_bytes(bytes(data))
    assert run_cli("inspect", str(target), "--no-stats").exit_code == 0
    result = run_cli("inspect", str(target), "--verify", "--no-stats", "--format", "json")
    assert result.exit_code == 1, result.stderr
    problems = json.loads(result.stdout)["integrity"]["problems"]
    assert [(p["key"], p["kind"]) for p in problems] == [("model.weights.h5", "zip-member")]
    assert "local header names" in problems[0]["detail"]


def test_member_read_by_zipfile_with_a_bad_header_is_exit_2(run_cli, tmp_path):
    target = copy_sample("keras3/model.keras", tmp_path)
    data = bytearray(target.read_bytes())
    with zipfile.ZipFile(target) as z:
        info = z.getinfo("metadata.json")
    name_at = info.header_offset + 30
    data[name_at : name_at + 13] = b"metadata.jsoN"
    target.write_bytes(bytes(data))
    result = run_cli("inspect", str(target), "--verify")
    assert result.exit_code == 2
    assert "metadata.json" in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_object_graph_pointing_outside_the_node_list_is_corruption(run_cli, tmp_path):
    from ckptdiff.errors import CorruptArtifact
    from ckptdiff.formats.object_graph import read_object_graph
    from tests.fuzz.bundle_writer import field_bytes, field_varint

    node = field_bytes(1, field_varint(1, 7) + field_bytes(2, b"child"))  # child -> node 7 of 1
    with pytest.raises(CorruptArtifact, match="references node 7"):
        read_object_graph(field_bytes(1, node), "graph")


@pytest.mark.parametrize("rel", sorted(SAMPLE_ARTIFACTS))
def test_every_healthy_sample_verifies(run_cli, rel):
    if not (SAMPLES / rel).exists() and not (SAMPLES / (rel + ".index")).exists():
        pytest.skip(f"sample {rel} not generated")
    result = run_cli("inspect", str(SAMPLES / rel), "--verify", "--no-stats")
    assert result.exit_code == 0, result.stdout + result.stderr
    assert "-> OK" in result.stdout


@pytest.mark.realworld
@pytest.mark.parametrize("rel", sorted(REALWORLD_ARTIFACTS))
def test_every_realworld_artifact_verifies(run_cli, realworld, rel):
    result = run_cli("inspect", str(realworld / rel), "--verify", "--no-stats", "--format", "json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["integrity"]["ok"] is True


def test_diff_verify_reports_both_sides(run_cli, tmp_path):
    folder = copy_sample("tf2", tmp_path)
    _flip_inside(str(folder / "ckpt-2"), KERNEL)
    result = run_cli("diff", str(folder / "ckpt-2"), str(SAMPLES / "tf2" / "ckpt-2"), "--verify", "--format", "json")
    assert result.exit_code == 1
    integrity = json.loads(result.stdout)["integrity"]
    assert integrity["a"]["ok"] is False and integrity["b"]["ok"] is True
    assert [p["key"] for p in integrity["a"]["problems"]] == [KERNEL]
    same = run_cli("diff", str(SAMPLES / "tf2" / "ckpt-2"), str(SAMPLES / "tf2" / "ckpt-2"), "--verify")
    assert same.exit_code == 0
    assert same.stdout.count("-> OK") == 2


@pytest.mark.requires_tf
def test_check_verify(run_cli, tmp_path):
    folder = copy_sample("tf2", tmp_path)
    _flip_inside(str(folder / "ckpt-2"), KERNEL)
    spec = str(SAMPLES / "models.py") + ":build_keras3"
    result = run_cli("check", str(folder), "--model", spec, "--verify", "--format", "json")
    assert result.exit_code == 1
    doc = json.loads(result.stdout)
    assert doc["ok"] is True  # the restore itself matches; the damage is what fails the run
    assert [p["key"] for p in doc["integrity"]["problems"]] == [KERNEL]


def test_unreadable_h5_chunk_is_a_row_with_verify_and_exit_2_for_statistics(run_cli, tmp_path):
    import h5py

    path = tmp_path / "gz.h5"
    with h5py.File(path, "w") as f:
        f.attrs["layer_names"] = np.array([b"dense"])
        group = f.create_group("dense")
        group.attrs["weight_names"] = np.array([b"kernel:0"])
        group.create_dataset(
            "kernel:0", data=np.random.RandomState(0).rand(64, 64).astype("f4"), chunks=(16, 64), compression="gzip"
        )
        offset = f["dense/kernel:0"].id.get_chunk_info(1).byte_offset
    data = bytearray(path.read_bytes())
    data[offset + 20] ^= 0xFF
    data[offset + 21] ^= 0xFF
    path.write_bytes(bytes(data))
    stats = run_cli("inspect", str(path))
    assert stats.exit_code == 2 and "dense/kernel:0 cannot be read" in stats.stderr
    assert len(stats.stderr.strip().splitlines()) == 1
    verified = run_cli("inspect", str(path), "--verify", "--no-stats", "--format", "json")
    assert verified.exit_code == 1
    problems = json.loads(verified.stdout)["integrity"]["problems"]
    assert [(p["key"], p["kind"]) for p in problems] == [("dense/kernel:0", "unreadable")]


def _bundle_with_an_entry_without_crc(tmp_path: Path) -> Path:
    """Two honest float32 tensors; the index entry of `b` has no crc32c field (proto3 then reads 0)."""
    from dataclasses import dataclass

    @dataclass(frozen=True)
    class NoCrcEntry(CraftedEntry):
        def encode(self) -> bytes:
            encoded = super().encode()
            assert encoded[-5] == 0x35  # field 6, fixed32: the tag and four bytes end the message
            return encoded[:-5]

    a = np.arange(8, dtype=np.float32).tobytes()
    b = np.linspace(-1, 1, 8, dtype=np.float32).tobytes()
    plain = float_entry("a", a, 0, (8,))
    without = NoCrcEntry("b", (8,), len(a), len(b), 0)
    prefix = tmp_path / "ckpt"
    write_bundle(prefix, [plain, without], a + b)
    return prefix


def test_an_entry_without_its_crc_field_fails_as_tensorflow_reads_it(run_cli, tmp_path):
    """TensorFlow compares every tensor's bytes with its stored CRC32C, an absent field reading as 0, and refuses
    the tensor; --verify says so (before: counted in a note, `OK`, exit 0)."""
    prefix = _bundle_with_an_entry_without_crc(tmp_path)
    result = run_cli("inspect", str(prefix), "--verify", "--no-stats", "--format", "json")
    assert result.exit_code == 1, result.stdout
    integrity = json.loads(result.stdout)["integrity"]
    assert integrity["checked"] == 2
    assert [(p["key"], p["kind"]) for p in integrity["problems"]] == [("b", "crc-mismatch")]
    assert "no CRC field" in integrity["problems"][0]["detail"]


@pytest.mark.requires_tf
def test_tensorflow_refuses_the_entry_without_its_crc_field(tf, tmp_path):
    reader = tf.train.load_checkpoint(str(_bundle_with_an_entry_without_crc(tmp_path)))
    np.testing.assert_array_equal(reader.get_tensor("a"), np.arange(8, dtype=np.float32))
    with pytest.raises(Exception, match="[Cc]hecksum"):
        reader.get_tensor("b")


def test_sharded_weights_with_a_damaged_group_heap(run_cli, tmp_path):
    """One byte of a shard's root heap damaged (hand-crafted): h5py can no longer reach two of the containers
    the weight map gives that shard (the oracle), and cannot walk its groups. --verify names both containers and
    the walk, exit 1; without it the listing says which containers it could not reach. Before: 'internal error'
    with --verify, and 4 of 10 tensors listed in silence, exit 0, without it."""
    import h5py

    folder = tmp_path / "sharded"
    shutil.copytree(SAMPLES / "formats" / "sharded", folder)
    shard = folder / "model_00000.weights.h5"
    data = bytearray(shard.read_bytes())
    data[704] = 0o325
    shard.write_bytes(bytes(data))
    with h5py.File(shard, "r") as h5:
        for container in ("layers/dense/vars", "layers/batch_normalization/vars"):
            with pytest.raises(Exception):
                h5[container]
    result = run_cli("inspect", str(folder / "model.weights.json"), "--verify", "--no-stats", "--format", "json")
    assert result.exit_code == 1, result.stderr
    assert "internal error" not in result.stderr
    problems = {(p["key"], p["kind"]) for p in json.loads(result.stdout)["integrity"]["problems"]}
    assert {
        ("model_00000.weights.h5:layers/dense/vars", "structure"),
        ("model_00000.weights.h5:layers/batch_normalization/vars", "structure"),
        ("model_00000.weights.h5", "structure"),
    } <= problems, problems
    plain = run_cli("inspect", str(folder / "model.weights.json"), "--no-stats")
    assert plain.exit_code == 0
    assert "2 of the 4 variable containers the weight map lists are in none of their shards" in plain.stdout


def test_saved_model_without_the_variables_its_graph_restores(run_cli, tmp_path):
    """A SavedModel whose variables.index is gone, or whose index lost one entry its object graph names: --verify
    fails both (before: `0 checked -> OK` and `20 checked -> OK`, exit 0). TensorFlow's loader fails on both
    (measured by a review with tf.saved_model.load: "Failed to find any matching files", "Key ... not found")."""
    from ckptdiff.formats.leveldb_table import read_table
    from ckptdiff.storage import as_location
    from tests.fuzz.bundle_writer import write_table

    gone = tmp_path / "gone"
    shutil.copytree(SAMPLES / "saved_model", gone)
    (gone / "variables" / "variables.index").unlink()
    result = run_cli("inspect", str(gone), "--verify", "--no-stats", "--format", "json")
    assert result.exit_code == 1, result.stdout
    problems = json.loads(result.stdout)["integrity"]["problems"]
    assert [(p["key"], p["kind"]) for p in problems] == [("variables/variables.index", "unreadable")]

    lost = tmp_path / "lost"
    shutil.copytree(SAMPLES / "saved_model", lost)
    index = lost / "variables" / "variables.index"
    key = b"_all_variables/0/.ATTRIBUTES/VARIABLE_VALUE"
    items = [(k, bytes(v)) for k, v in read_table(as_location(str(index)), "index")]
    assert key in dict(items)
    write_table(index, [(k, v) for k, v in items if k != key])
    result = run_cli("inspect", str(lost), "--verify", "--no-stats", "--format", "json")
    assert result.exit_code == 1, result.stdout
    problems = json.loads(result.stdout)["integrity"]["problems"]
    assert [(p["key"], p["kind"]) for p in problems] == [(key.decode(), "dangling-reference")]


def test_a_string_tensor_too_large_to_verify_is_not_counted_as_checked(run_cli, tmp_path):
    """A 300 MiB string tensor (hand-crafted index on a sparse shard) is over what --verify reads into memory: it
    is named in a note and not counted as checked (before: counted, `OK`)."""
    from tests.fuzz.bundle_writer import DT_STRING

    a = np.arange(8, dtype=np.float32).tobytes()
    size = 300 << 20
    prefix = tmp_path / "ckpt"
    big = CraftedEntry("zz_big_string", (1,), len(a), size, 0x12345678, dtype=DT_STRING)
    write_bundle(prefix, [float_entry("a", a, 0, (8,)), big], a)
    with open(f"{prefix}.data-00000-of-00001", "r+b") as shard:
        shard.truncate(len(a) + size)
    result = run_cli("inspect", str(prefix), "--verify", "--no-stats", "--format", "json")
    integrity = json.loads(result.stdout)["integrity"]
    assert integrity["checked"] == 1, integrity
    assert any("zz_big_string" in note and "not verified" in note for note in integrity["notes"]), integrity


@pytest.mark.parametrize("damage", ["no tree", "no item"])
def test_orbax_step_missing_its_tree_or_a_listed_item_is_refused(run_cli, tmp_path, damage):
    """An Orbax step whose array checkpointable lost its `_METADATA`, or lost its folder, while
    `_CHECKPOINT_METADATA` still lists it: Orbax's restore fails ("No structure could be identified", measured by
    a review with ocp.PyTreeCheckpointer), and so does the open, exit 2 (before: no tensors, `OK`, exit 0)."""
    pytest.importorskip("tensorstore")
    step = tmp_path / "1"
    shutil.copytree(SAMPLES / "formats" / "orbax" / "keras_callback" / "1", step)
    meta = json.loads((step / "_CHECKPOINT_METADATA").read_text())
    assert "pytree" in meta["item_handlers"]
    if damage == "no tree":
        (step / "pytree" / "_METADATA").unlink()
    else:
        shutil.rmtree(step / "pytree")
    result = run_cli("inspect", str(step), "--verify", "--no-stats")
    assert result.exit_code == 2, result.stdout
    assert "pytree" in result.stderr and "Orbax cannot restore it" in result.stderr


def test_orbax_verify_says_its_arrays_carry_no_checksum(run_cli):
    pytest.importorskip("tensorstore")
    result = run_cli("inspect", str(SAMPLES / "formats" / "orbax" / "keras_callback"), "--verify", "--no-stats")
    assert result.exit_code == 0 and "Orbax stores no checksum for its arrays" in result.stdout


def test_a_partitioned_tensor_missing_a_slice_fails_verify(run_cli, tmp_path):
    """The index of a partitioned checkpoint loses the last slice entry of a tensor (hand-crafted): --verify names
    the tensor, exit 1 (before: `34 checked -> OK`; TensorFlow's reader fails on the key, measured by a review)."""
    from ckptdiff.formats.leveldb_table import read_table
    from ckptdiff.formats.tf_bundle import _slice_owner
    from ckptdiff.storage import as_location
    from tests.fuzz.bundle_writer import write_table

    folder = copy_sample("tf2_sharded", tmp_path)
    index = folder / "ckpt.index"
    owner = b"optimizer/_trainable_variables/0/.ATTRIBUTES/VARIABLE_VALUE"
    items = [(k, bytes(v)) for k, v in read_table(as_location(str(index)), "index")]
    slices = [k for k, _ in items if _slice_owner(k) == owner]
    assert len(slices) == 4
    write_table(index, [(k, v) for k, v in items if k != slices[-1]])
    result = run_cli("inspect", str(folder / "ckpt"), "--verify", "--no-stats", "--format", "json")
    assert result.exit_code == 1, result.stdout
    problems = json.loads(result.stdout)["integrity"]["problems"]
    assert [(p["key"], p["kind"]) for p in problems] == [(owner.decode(), "dangling-reference")], problems
    assert "lists 4 slices, the index holds 3" in problems[0]["detail"]
