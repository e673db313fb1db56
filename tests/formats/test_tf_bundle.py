"""The native V2 bundle reader, cross-checked against tf.train.load_checkpoint on every bundle found."""

from __future__ import annotations

import contextlib
import os
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import crc32c
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ckptdiff.errors import (
    ArtifactNotFound,
    CorruptArtifact,
    MissingShard,
    NotATable,
    TruncatedShard,
    UnreadableArtifact,
)
from ckptdiff.formats import protowire as pw
from ckptdiff.formats.leveldb_table import decompress_snappy, read_table
from ckptdiff.formats.tf_bundle import read_tf_bundle
from tests.fuzz.bundle_writer import field_bytes, field_fixed32, field_varint, mask, varint

_MADE: dict[str, Path] = {}


# --- checkpoints written by TensorFlow's own savers, once per session ---------------------------


def build_made_checkpoints(root: Path) -> dict[str, Path]:
    """Write, with the real savers, the checkpoints the committed corpus does not cover."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf
    import tf_keras

    made: dict[str, Path] = {}
    variables = {
        "strings": tf.Variable(["hello", "", "w\x00rld" * 100, "\xff\xfe".encode("latin-1")]),
        "scalar_string": tf.Variable("scalar"),
        "no_strings": tf.Variable(tf.zeros((0, 2), tf.string)),
        "bf16": tf.Variable(tf.constant([1.5, -2.25, float("nan")], tf.bfloat16)),
        "f16": tf.Variable(tf.constant([[1.5, float("nan")], [-0.0, 65504.0]], tf.float16)),
        "i8": tf.Variable(tf.constant([1, -128], tf.int8)),
        "u8": tf.Variable(tf.constant([1, 250], tf.uint8)),
        "i16": tf.Variable(tf.constant([1, -2], tf.int16)),
        "u16": tf.Variable(tf.constant([1, 60000], tf.uint16)),
        "i32": tf.Variable(tf.constant([[1, -2, 3]], tf.int32)),
        "u32": tf.Variable(tf.constant([1, 2**31 + 5], tf.uint32)),
        "i64": tf.Variable(tf.constant([1, -(2**40)], tf.int64)),
        "u64": tf.Variable(tf.constant([1, 2**63 + 5], tf.uint64)),
        "flags": tf.Variable(tf.constant([True, False, True])),
        "c64": tf.Variable(tf.constant([1 + 2j], tf.complex64)),
        "c128": tf.Variable(tf.constant([1 + 2j, 3 - 4j], tf.complex128)),
        "f64": tf.Variable(tf.constant([1e300, -0.0], tf.float64)),
        "empty": tf.Variable(tf.zeros((0, 5))),
        "we.ird/name": tf.Variable([7.0]),
    }
    made["dtypes"] = Path(tf.train.Checkpoint(**variables).write(str(root / "dtypes" / "ckpt")))

    tf1 = tf.compat.v1
    with tf.Graph().as_default():
        kernel = tf1.get_variable("dense/kernel", shape=(4, 3))
        table = tf1.get_variable("part/emb", shape=(10, 4), partitioner=tf1.fixed_size_partitioner(3))
        tf1.get_variable("vocab", initializer=tf.constant(["a", "bb"]))
        loss = tf.reduce_sum(tf.matmul(tf.ones((2, 4)), kernel)) + tf.reduce_sum(table)
        step = tf1.train.AdamOptimizer().minimize(loss)
        with tf1.Session() as sess:
            sess.run(tf1.global_variables_initializer())
            sess.run(step)
            made["partitioned"] = Path(tf1.train.Saver().save(sess, str(root / "partitioned" / "model.ckpt")))
    with tf.Graph().as_default():
        tf1.get_variable("nothing", shape=(0, 3))
        with tf1.Session() as sess:
            sess.run(tf1.global_variables_initializer())
            made["zero_byte_shard"] = Path(tf1.train.Saver().save(sess, str(root / "zero_byte" / "model.ckpt")))

    class Net(tf.Module):
        def __init__(self) -> None:
            super().__init__()
            self.w = tf.Variable([[1.0, 2.0], [3.0, 4.0]])
            self.layers = [tf.Variable([1.0, 2.0])]
            self.alias = self.w  # a second path to the same variable

    net = Net()
    opt = tf_keras.optimizers.legacy.Adam(0.1)  # a TF optimizer: real slot variables in the graph
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(net.w) + tf.reduce_sum(net.layers[0])
    grads = tape.gradient(loss, [net.w, net.layers[0]])
    opt.apply_gradients(zip(grads, [net.w, net.layers[0]]))
    made["slots"] = Path(tf.train.Checkpoint(net=net, opt=opt).write(str(root / "slots" / "ckpt")))

    header_only = root / "header_only" / "ckpt"
    header_only.parent.mkdir()
    write_table(Path(f"{header_only}.index"), [(b"", header_proto(1))])
    Path(f"{header_only}.data-00000-of-00001").write_bytes(b"")
    made["header_only"] = header_only
    return made


@pytest.fixture(scope="session")
def made_checkpoints(tmp_path_factory, tf) -> dict[str, Path]:
    """The TF-written checkpoints of build_made_checkpoints, built once per session."""
    if not _MADE:
        _MADE.update(build_made_checkpoints(tmp_path_factory.mktemp("made_checkpoints")))
    return _MADE


# --- a tiny table writer, for inputs no saver produces ------------------------------------------


def header_proto(num_shards: int, big_endian: bool = False) -> bytes:
    return (
        field_varint(1, num_shards) + (field_varint(2, 1) if big_endian else b"") + field_bytes(3, field_varint(1, 1))
    )


def entry_proto(dtype: int, shape: tuple[int, ...], offset: int, size: int, shard_id: int = 0) -> bytes:
    shape_proto = b"".join(field_bytes(2, field_varint(1, d)) for d in shape)
    return (
        field_varint(1, dtype)
        + field_bytes(2, shape_proto)
        + (field_varint(3, shard_id) if shard_id else b"")
        + field_varint(4, offset)
        + field_varint(5, size)
        + field_fixed32(6, 0)
    )


def block(entries: list[tuple[bytes, bytes]]) -> bytes:
    body = b"".join(varint(0) + varint(len(k)) + varint(len(v)) + k + v for k, v in entries)
    return body + struct.pack("<II", 0, 1)  # one restart point, at 0


def write_table(path: Path, entries: list[tuple[bytes, bytes]]) -> None:
    """A LevelDB table as TensorFlow writes it: one data block, empty metaindex, index, footer."""
    out = bytearray()

    def put(contents: bytes) -> bytes:
        handle = varint(len(out)) + varint(len(contents))
        out.extend(contents + b"\x00" + struct.pack("<I", mask(crc32c.crc32c(b"\x00", crc32c.crc32c(contents)))))
        return handle

    data = put(block(entries))
    meta = put(block([]))
    index = put(block([(entries[-1][0] + b"\xff" if entries else b"", data)]))
    footer = (meta + index).ljust(40, b"\x00") + struct.pack("<Q", 0xDB4775248B80FB57)
    path.write_bytes(bytes(out) + footer)


def write_bundle(prefix: Path, entries: list[tuple[bytes, bytes]], data: bytes, num_shards: int = 1, **header) -> Path:
    prefix.parent.mkdir(parents=True, exist_ok=True)
    write_table(Path(f"{prefix}.index"), [(b"", header_proto(num_shards, **header))] + entries)
    for i in range(num_shards):
        Path(f"{prefix}.data-{i:05d}-of-{num_shards:05d}").write_bytes(data if i == 0 else b"")
    return prefix


# --- the cross-check against TensorFlow ---------------------------------------------------------


def assert_matches_tf(prefix: Path, tf) -> None:
    """Same keys, shapes, dtypes and bit-identical values as tf.train.load_checkpoint."""
    reader = tf.train.load_checkpoint(str(prefix))
    shapes = reader.get_variable_to_shape_map()
    dtypes = reader.get_variable_to_dtype_map()
    with read_tf_bundle(prefix, str(prefix)) as artifact:
        keys = [e.key for e in artifact.entries]
        assert keys == sorted(keys, key=lambda k: k.encode()), f"{prefix}: not in stored order"
        assert set(keys) == set(shapes), f"{prefix}: key sets differ: {set(keys) ^ set(shapes)}"
        for entry in artifact.entries:
            where = f"{prefix}: {entry.key}"
            assert entry.shape == tuple(shapes[entry.key]), where
            expected = reader.get_tensor(entry.key)
            got = entry.read()
            if dtypes[entry.key] == tf.string:
                expected = np.array(expected, dtype=object)
                assert entry.dtype == "string" and got.shape == expected.shape, where
                assert list(got.reshape(-1)) == list(expected.reshape(-1)), where
                continue
            expected = np.asarray(expected)
            assert entry.dtype == np.dtype(dtypes[entry.key].as_numpy_dtype).name, where
            assert got.dtype == expected.dtype and got.shape == expected.shape, where
            assert got.tobytes() == expected.tobytes(), where
            streamed = list(entry.iter_chunks(7))
            assert all(c.ndim == 1 and c.size <= 7 for c in streamed), where
            joined = np.concatenate(streamed) if streamed else np.empty(0, got.dtype)
            assert joined.tobytes() == expected.tobytes(), where
            assert entry.nbytes is not None and entry.nbytes >= expected.nbytes, where


def bundles_under(root: Path) -> list[Path]:
    return sorted(Path(str(p)[: -len(".index")]) for p in root.glob("**/*.index"))


@pytest.mark.requires_tf
def test_every_sample_bundle_matches_tf(samples, tf):
    prefixes = bundles_under(samples)
    assert len(prefixes) >= 6, f"expected the corpus bundles under {samples}, found {prefixes}"
    for prefix in prefixes:
        assert_matches_tf(prefix, tf)


@pytest.mark.requires_tf
@pytest.mark.realworld
def test_every_realworld_bundle_matches_tf(realworld, tf):
    prefixes = bundles_under(realworld)
    assert prefixes
    for prefix in prefixes:
        assert_matches_tf(prefix, tf)


@pytest.mark.requires_tf
@pytest.mark.parametrize("name", ["dtypes", "partitioned", "zero_byte_shard", "slots", "header_only"])
def test_made_bundle_matches_tf(made_checkpoints, tf, name):
    assert_matches_tf(made_checkpoints[name], tf)


@pytest.mark.requires_tf
def test_string_tensors_are_decoded_natively(made_checkpoints):
    with read_tf_bundle(made_checkpoints["dtypes"], "dtypes") as artifact:
        strings = artifact.entry("strings/.ATTRIBUTES/VARIABLE_VALUE")
        assert type(strings.source).__name__ == "ArraySource"
        assert list(strings.read()) == [b"hello", b"", b"w\x00rld" * 100, b"\xff\xfe"]
        assert artifact.entry("scalar_string/.ATTRIBUTES/VARIABLE_VALUE").read().item() == b"scalar"
        assert artifact.entry("we..ird.Sname/.ATTRIBUTES/VARIABLE_VALUE").paths == ("we..ird.Sname",)


@pytest.mark.requires_tf
def test_partitioned_variables_read_through_tf_and_hide_their_slices(made_checkpoints):
    with read_tf_bundle(made_checkpoints["partitioned"], "partitioned") as artifact:
        assert artifact.format == "tf1-checkpoint"
        table = artifact.entry("part/emb")
        assert type(table.source).__name__ == "LazySource"
        assert table.shape == (10, 4) and table.checksum is None and table.nbytes == 160
        assert not any(e.key.startswith("\x00") for e in artifact.entries)
        assert artifact.entry("part/emb/Adam").group == "optimizer"
        assert artifact.entry("dense/kernel").source.__class__.__name__ == "MemmapSource"


@pytest.mark.requires_tf
def test_zero_tensor_and_zero_byte_shard(made_checkpoints):
    with read_tf_bundle(made_checkpoints["header_only"], "x") as artifact:
        assert artifact.entries == () and artifact.format == "tf1-checkpoint"
    with read_tf_bundle(made_checkpoints["zero_byte_shard"], "x") as artifact:
        (entry,) = artifact.entries
        assert entry.shape == (0, 3) and entry.read().shape == (0, 3) and list(entry.iter_chunks()) == []


# --- structure, without TensorFlow --------------------------------------------------------------


def test_sample_tf2_entries(samples):
    with read_tf_bundle(samples / "tf2" / "ckpt-2", "tf2") as artifact:
        assert artifact.format == "tf-checkpoint"
        assert artifact.object_graph is not None
        assert len(artifact.entries) == 30
        counter = artifact.entry("save_counter/.ATTRIBUTES/VARIABLE_VALUE")
        assert counter.group == "bookkeeping" and counter.read().dtype == np.int64
        assert artifact.entry("_CHECKPOINTABLE_OBJECT_GRAPH").group == "bookkeeping"
        for e in artifact.entries:
            assert e.checksum is not None and e.nbytes is not None


def test_close_releases_the_maps(samples):
    artifact = read_tf_bundle(samples / "tf2" / "ckpt-2", "tf2")
    entry = artifact.entry("save_counter/.ATTRIBUTES/VARIABLE_VALUE")
    assert entry.read().item() >= 1
    artifact.close()
    with pytest.raises(ValueError):
        entry.read()


def test_float_checkpoint_reads_without_tensorflow(samples):
    script = (
        "import sys\n"
        "from pathlib import Path\n"
        "from ckptdiff.formats.tf_bundle import read_tf_bundle\n"
        "from ckptdiff.formats.saved_model import read_saved_model\n"
        f"for p in [{str(samples / 'tf2' / 'ckpt-2')!r}, {str(samples / 'tf1' / 'model.ckpt')!r}]:\n"
        "    with read_tf_bundle(Path(p), p) as a:\n"
        "        assert a.entries and all(e.read() is not None for e in a.entries)\n"
        f"with read_saved_model(Path({str(samples / 'saved_model')!r}), 'sm') as a:\n"
        "    assert a.metadata['ops'] and all(e.read() is not None for e in a.entries)\n"
        "assert 'tensorflow' not in sys.modules, 'tensorflow was imported'\n"
    )
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2]))
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr


# --- errors: each names the file ----------------------------------------------------------------


def copy_bundle(src_prefix: Path, dest_dir: Path) -> Path:
    dest_dir.mkdir(parents=True, exist_ok=True)
    for f in src_prefix.parent.glob(src_prefix.name + ".*"):
        shutil.copy(f, dest_dir / f.name)
    return dest_dir / src_prefix.name


def test_missing_shard(samples, tmp_path):
    prefix = copy_bundle(samples / "tf2_sharded" / "ckpt", tmp_path)
    Path(f"{prefix}.data-00001-of-00003").unlink()
    with pytest.raises(MissingShard, match="ckpt.data-00001-of-00003"):
        read_tf_bundle(prefix, str(prefix))


def test_truncated_shard(samples, tmp_path):
    prefix = copy_bundle(samples / "tf2" / "ckpt-2", tmp_path)
    shard = Path(f"{prefix}.data-00000-of-00001")
    with open(shard, "r+b") as f:
        f.truncate(shard.stat().st_size // 2)
    with pytest.raises(TruncatedShard) as info:
        read_tf_bundle(prefix, str(prefix))
    message = str(info.value)
    assert str(shard) in message and "tensor '_CHECKPOINTABLE_OBJECT_GRAPH'" in message and "other tensors" in message


@pytest.mark.parametrize(
    "content",
    [b"", b"model_checkpoint_path: 'x'\n" * 3, bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8))],
    ids=["zero-length", "text", "random"],
)
def test_index_that_is_not_a_table(tmp_path, content):
    index = tmp_path / "x.index"
    index.write_bytes(content)
    with pytest.raises(NotATable, match=str(index)):
        read_tf_bundle(tmp_path / "x", "x")


def test_missing_index(tmp_path):
    with pytest.raises(ArtifactNotFound, match="x.index"):
        read_tf_bundle(tmp_path / "x", "x")


def test_index_block_crc_is_checked(samples, tmp_path):
    prefix = copy_bundle(samples / "tf2" / "ckpt-2", tmp_path)
    index = Path(f"{prefix}.index")
    raw = bytearray(index.read_bytes())
    raw[10] ^= 0x01
    index.write_bytes(bytes(raw))
    with pytest.raises(CorruptArtifact, match="CRC32C"):
        read_tf_bundle(prefix, str(prefix))


def test_table_writer_round_trips(tmp_path):
    write_table(tmp_path / "t", [(b"", b"h"), (b"a", b"1"), (b"ab", b"22")])
    assert [(k, bytes(v)) for k, v in read_table(tmp_path / "t")] == [(b"", b"h"), (b"a", b"1"), (b"ab", b"22")]


@pytest.mark.parametrize(
    ("entries", "data", "num_shards", "error", "match"),
    [
        ([(b"w", entry_proto(1, (2, 3), 0, 20))], bytes(24), 1, CorruptArtifact, "expected 24"),
        ([(b"w", entry_proto(1, (2,), 0, 8, shard_id=3))], bytes(8), 1, CorruptArtifact, "shard 3"),
        ([(b"w", entry_proto(1, (4,), 4, 16))], bytes(16), 1, TruncatedShard, "'w'"),
        ([(b"w", entry_proto(1, (2,), 0, 8))], bytes(8), 1 << 20, CorruptArtifact, "shards"),
        ([(b"w", entry_proto(7, (3,), 0, 5))], bytes(5), 1, CorruptArtifact, "cannot hold 3 strings"),
        ([(b"w", b"\xff\xff")], b"", 1, CorruptArtifact, "entry 'w'"),
        ([(b"b", entry_proto(1, (), 0, 4)), (b"a", entry_proto(1, (), 0, 4))], bytes(4), 1, CorruptArtifact, "order"),
    ],
    ids=[
        "size-vs-shape",
        "shard-id",
        "past-shard-end",
        "huge-shard-count",
        "strings-too-short",
        "bad-proto",
        "unsorted",
    ],
)
def test_inconsistent_index_entries(tmp_path, entries, data, num_shards, error, match):
    prefix = tmp_path / "ckpt"
    prefix.parent.mkdir(exist_ok=True)
    write_table(Path(f"{prefix}.index"), [(b"", header_proto(num_shards))] + entries)
    Path(f"{prefix}.data-00000-of-00001").write_bytes(data)
    with pytest.raises(error, match=match) as info:
        read_tf_bundle(prefix, str(prefix))
    assert str(prefix) in str(info.value)


def test_missing_header(tmp_path):
    write_table(tmp_path / "ckpt.index", [(b"w", entry_proto(1, (), 0, 4))])
    with pytest.raises(CorruptArtifact, match="header"):
        read_tf_bundle(tmp_path / "ckpt", "ckpt")


def test_string_length_checksum_is_checked(tmp_path):
    lengths = varint(2) + varint(3)
    good = lengths + struct.pack("<I", mask(crc32c.crc32c(struct.pack("<II", 2, 3)))) + b"abcde"
    bad = lengths + b"\0\0\0\0" + b"abcde"
    prefix = write_bundle(tmp_path / "good" / "ckpt", [(b"s", entry_proto(7, (2,), 0, len(good)))], good)
    with read_tf_bundle(prefix, "good") as artifact:
        assert list(artifact.entry("s").read()) == [b"ab", b"cde"]
    prefix = write_bundle(tmp_path / "bad" / "ckpt", [(b"s", entry_proto(7, (2,), 0, len(bad)))], bad)
    with pytest.raises(CorruptArtifact, match="checksum"):
        read_tf_bundle(prefix, "bad")


def test_big_endian_bundle(tmp_path):
    data = np.array([1.5, -2.0], dtype=">f4").tobytes()
    prefix = write_bundle(tmp_path / "ckpt", [(b"w", entry_proto(1, (2,), 0, 8))], data, big_endian=True)
    with read_tf_bundle(prefix, "be") as artifact:
        assert artifact.metadata["big_endian"] is True
        np.testing.assert_array_equal(artifact.entry("w").read(), [1.5, -2.0])


def test_unsupported_dtypes_fail_only_on_read(tmp_path):
    prefix = write_bundle(
        tmp_path / "ckpt", [(b"r", entry_proto(20, (), 0, 0)), (b"z", entry_proto(99, (), 0, 0))], b""
    )
    with read_tf_bundle(prefix, "x") as artifact:
        assert [e.dtype for e in artifact.entries] == ["resource", "dtype-99"]
        with pytest.raises(UnreadableArtifact, match="'r'"):
            artifact.entry("r").read()


def test_snappy_blocks():
    # "abc" as a literal, then a copy of 9 bytes from 3 back (overlapping itself).
    assert decompress_snappy(varint(12) + b"\x08abc" + bytes([(9 - 4) << 2 | 1, 3]), "t") == b"abc" * 4
    assert decompress_snappy(varint(0), "t") == b""
    for bad in [b"", varint(5) + b"\x08abc", varint(9) + bytes([(5 << 2) | 1, 3]), varint(1 << 30) + b"\x00a"]:
        with pytest.raises(CorruptArtifact):
            decompress_snappy(bad, "t")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=200))
def test_random_bytes_only_raise_corrupt(data):
    with contextlib.suppress(CorruptArtifact):
        pw.parse_message(data, "fuzz")
    with contextlib.suppress(CorruptArtifact):
        decompress_snappy(data, "fuzz")


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), min_size=1, max_size=4))
def test_damaged_index_only_raises_unreadable(samples, tmp_path_factory, edits):
    src = samples / "tf2" / "ckpt-2"
    raw = bytearray(Path(f"{src}.index").read_bytes())
    for position, value in edits:
        raw[position % len(raw)] = value
    directory = tmp_path_factory.mktemp("fuzz")
    (directory / "ckpt.index").write_bytes(bytes(raw))
    shutil.copy(f"{src}.data-00000-of-00001", directory / "ckpt.data-00000-of-00001")
    with contextlib.suppress(UnreadableArtifact):
        read_tf_bundle(directory / "ckpt", "fuzz").close()


# --- the wire-format decoder --------------------------------------------------------------------


def test_protowire_decodes_every_wire_type():
    message = field_varint(1, 300) + field_bytes(2, b"abc") + field_fixed32(3, 7) + varint(4 << 3 | 1) + bytes(8)
    message += field_varint(5, -2)  # a negative int32 is a ten-byte varint
    fields = pw.parse_message(message, "t")
    assert fields[1] == [300] and bytes(fields[2][0]) == b"abc" and fields[3] == [7] and fields[4] == [0]
    assert pw.get_int(fields, 5, "t", signed=True) == -2


@pytest.mark.parametrize(
    "data",
    [b"\x08" + b"\xff" * 10 + b"\x01", b"\x08\x80", b"\x12\x05abc", b"\x0b", b"\x00\x01", b"\x1d\x01\x02", b"\x0f"],
    ids=[
        "varint-too-long",
        "varint-truncated",
        "length-past-end",
        "group",
        "field-zero",
        "fixed32-truncated",
        "wire-7",
    ],
)
def test_protowire_rejects_malformed_input(data):
    with pytest.raises(CorruptArtifact, match="^where:"):
        pw.parse_message(data, "where")


# --- the fast entry decoder against the generic one -------------------------------------------------------------


def _assert_fast_equals_generic(key: str, value: bytes) -> None:
    from ckptdiff.formats import tf_bundle

    heads: tf_bundle.Heads = {}
    for _ in range(2):  # the second pass hits the decoded-heads cache
        fast = tf_bundle._parse_entry_fast(key, memoryview(value), heads)
        if fast is not None:
            assert fast == tf_bundle._parse_entry_generic(key, memoryview(value), "test"), value.hex()


def test_fast_entry_decoder_agrees_with_the_generic_one_on_every_sample_index(samples):
    from ckptdiff.formats import tf_bundle

    decoded = 0
    for prefix in bundles_under(samples):
        for raw_key, value in read_table(Path(str(prefix) + ".index"))[1:]:
            key = raw_key.decode(errors="replace")
            fast = tf_bundle._parse_entry_fast(key, value, {})
            try:
                generic = tf_bundle._parse_entry_generic(key, value, "test")
            except CorruptArtifact:  # a hostile sample: the fast path must not accept what the generic one refuses
                assert fast is None, (prefix, raw_key)
                continue
            assert fast is None or fast == generic, (prefix, raw_key)
            decoded += fast is not None
    assert decoded > 100, "the TensorFlow-written entries take the fast path"


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(
    dtype=st.integers(0, 200),
    shape=st.lists(st.integers(0, 1 << 40), max_size=5),
    shard=st.integers(0, 300),
    offset=st.integers(0, 1 << 62),
    size=st.integers(0, 1 << 62),
    crc=st.one_of(st.none(), st.integers(0, (1 << 32) - 1)),
    order=st.permutations(range(5)),
)
def test_fast_entry_decoder_agrees_with_the_generic_one_on_any_layout(dtype, shape, shard, offset, size, crc, order):
    shape_proto = b"".join(field_bytes(2, field_varint(1, d) if d else b"") for d in shape)
    fields = [
        field_varint(1, dtype) if dtype else b"",
        field_bytes(2, shape_proto),
        field_varint(3, shard) if shard else b"",
        field_varint(4, offset) if offset else b"",
        field_varint(5, size) if size else b"",
    ]
    value = b"".join(fields) + (b"" if crc is None else field_fixed32(6, crc))
    _assert_fast_equals_generic("k", value)
    _assert_fast_equals_generic("k", b"".join(fields[i] for i in order))
