"""make bench-detect: precision and recall of the fresh-init detector on a labelled set built in memory.

Fresh tensors: every variable of freshly built Keras 3 and tf_keras models (Dense, Conv2D, SeparableConv2D,
DepthwiseConv2D, Embedding, LSTM, GRU, MultiHeadAttention, BatchNormalization), each architecture built
with parallel branches, one per initializer, for several seeds and sizes; plus TF1 initializers called
directly. Trained tensors: one model per architecture and framework trained on a small synthetic task
until its loss has clearly dropped (Adam for Keras 3, SGD with momentum for tf_keras), labelled by
comparing each variable with its own initial value: a variable training left unchanged (a bias that
stayed zero) is excluded, not labelled. Plus every float tensor of the real-world trained models in
../shared/realworld (read with h5py, through ckptdiff's H5 source) when present.

Two modes are scored: `inspect` (the detector sees only the values) and `check` (it is also given the
variable's configured initializer, as `ckptdiff check` does). Nothing is written to disk.
"""

from __future__ import annotations

import datetime
import os
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np

from ckptdiff.artifact import TensorEntry
from ckptdiff.formats.sources import ArraySource, H5DatasetSource
from ckptdiff.stats.fresh import assess_init
from ckptdiff.stats.initializers import INITIALIZER_ATTRIBUTES
from ckptdiff.stats.moments import compute_stats
from ckptdiff.stats.roles import role_from_name

REALWORLD_FILES = (
    "keras3_mnist/mnist_model.h5",
    "keras2_face/gender_mini_XCEPTION.21-0.95.hdf5",
)
MAX_LISTED = 8
BIG = 1024
"""The target is stated on tensors of at least this many values."""
FRESH_SEEDS = (0, 1, 2)
"""Seeds of the fresh-only builds (the trained models add their own seed 100)."""


@dataclass
class Labelled:
    """One tensor with its label."""

    origin: str
    """`keras3`, `tf_keras`, `tf1` or `realworld`."""
    name: str
    value: np.ndarray | None
    label: str
    """`fresh` or `trained`."""
    initializer: dict | None = None
    h5: Any = None
    """An open h5py dataset instead of value (real-world files)."""
    initial: np.ndarray | None = None
    """For trained model tensors: the value before training."""

    @property
    def moved(self) -> str:
        """How far training moved it: ||W - W0|| / ||W0||, for the error list."""
        if self.initial is None:
            return ""
        base = float(np.linalg.norm(self.initial)) or 1.0
        return f" moved {100 * float(np.linalg.norm(self.value - self.initial)) / base:.1f}%"

    @property
    def size(self) -> int:
        shape = self.h5.shape if self.h5 is not None else self.value.shape
        return int(np.prod(shape, dtype=np.int64))


# --------------------------------------------------------------------------------------------- models

KERNEL_INITS: tuple[Any, ...] = (
    "glorot_uniform",
    "glorot_normal",
    "he_uniform",
    "he_normal",
    "lecun_uniform",
    "lecun_normal",
    ("RandomUniform", {}),
    ("RandomNormal", {}),
    ("TruncatedNormal", {}),
    ("TruncatedNormal", {"stddev": 0.02}),
    ("RandomNormal", {"stddev": 0.02}),
    ("VarianceScaling", {"scale": 2.0, "mode": "fan_out", "distribution": "untruncated_normal"}),
    ("VarianceScaling", {"scale": 1.0 / 3.0, "mode": "fan_in", "distribution": "uniform"}),
    ("Orthogonal", {}),
)


def make_init(mod: Any, spec: Any, seed: int) -> Any:
    """An initializer object of mod (keras or tf_keras) from a KERNEL_INITS entry."""
    if isinstance(spec, str):
        cls = {
            "glorot_uniform": "GlorotUniform",
            "glorot_normal": "GlorotNormal",
            "he_uniform": "HeUniform",
            "he_normal": "HeNormal",
            "lecun_uniform": "LecunUniform",
            "lecun_normal": "LecunNormal",
        }[spec]
        return getattr(mod.initializers, cls)(seed=seed)
    cls, kwargs = spec
    return getattr(mod.initializers, cls)(seed=seed, **kwargs)


def pick_inits(count: int, seed: int) -> list[Any]:
    """count initializers, rotating through KERNEL_INITS with the seed so every one is covered."""
    return [KERNEL_INITS[(seed * count + i) % len(KERNEL_INITS)] for i in range(count)]


def _head(mod: Any, branches: list[Any]) -> Any:
    x = mod.layers.Concatenate()(branches) if len(branches) > 1 else branches[0]
    return mod.layers.Dense(4, name="head")(x)


def arch_dense(mod: Any, seed: int, big: bool) -> tuple[Any, Callable]:
    d_in, units = (64, 128) if big else (48, 40)
    inp = mod.Input((d_in,))
    inits = pick_inits(len(KERNEL_INITS), seed)
    outs = [
        mod.layers.Dense(
            units, activation="tanh", kernel_initializer=make_init(mod, s, seed * 100 + i), name=f"dense_{i}"
        )(inp)
        for i, s in enumerate(inits)
    ]
    return mod.Model(inp, _head(mod, outs)), lambda rng, n: _vector_task(rng, n, (d_in,))


def arch_conv(mod: Any, seed: int, big: bool) -> tuple[Any, Callable]:
    c, f = (16, 32) if big else (8, 24)
    inp = mod.Input((10, 10, c))
    inits = pick_inits(7, seed)
    outs = [
        mod.layers.GlobalAveragePooling2D()(
            mod.layers.Conv2D(
                f, 3, activation="relu", kernel_initializer=make_init(mod, s, seed * 100 + i), name=f"conv_{i}"
            )(inp)
        )
        for i, s in enumerate(inits)
    ]
    return mod.Model(inp, _head(mod, outs)), lambda rng, n: _image_task(rng, n, c)


def arch_separable(mod: Any, seed: int, big: bool) -> tuple[Any, Callable]:
    c, f = (32, 64) if big else (32, 40)
    inp = mod.Input((10, 10, c))
    inits = pick_inits(5, seed)
    outs = [
        mod.layers.GlobalAveragePooling2D()(
            mod.layers.SeparableConv2D(
                f,
                3,
                activation="relu",
                depthwise_initializer=make_init(mod, s, seed * 100 + i),
                pointwise_initializer=make_init(mod, s, seed * 100 + 50 + i),
                name=f"sep_{i}",
            )(inp)
        )
        for i, s in enumerate(inits)
    ]
    return mod.Model(inp, _head(mod, outs)), lambda rng, n: _image_task(rng, n, c)


def arch_depthwise(mod: Any, seed: int, big: bool) -> tuple[Any, Callable]:
    c, mult = (32, 4) if big else (64, 2)
    inp = mod.Input((10, 10, c))
    inits = pick_inits(5, seed)
    outs = [
        mod.layers.GlobalAveragePooling2D()(
            mod.layers.DepthwiseConv2D(
                3,
                depth_multiplier=mult,
                activation="relu",
                depthwise_initializer=make_init(mod, s, seed * 100 + i),
                name=f"dw_{i}",
            )(inp)
        )
        for i, s in enumerate(inits)
    ]
    return mod.Model(inp, _head(mod, outs)), lambda rng, n: _image_task(rng, n, c)


def arch_embedding(mod: Any, seed: int, big: bool) -> tuple[Any, Callable]:
    vocab, dim = (400, 32) if big else (300, 16)
    inp = mod.Input((12,), dtype="int32")
    outs = [mod.layers.GlobalAveragePooling1D()(mod.layers.Embedding(vocab, dim, name="embedding_default")(inp))]
    for i, s in enumerate(pick_inits(3, seed)):
        outs.append(
            mod.layers.GlobalAveragePooling1D()(
                mod.layers.Embedding(
                    vocab, dim, embeddings_initializer=make_init(mod, s, seed * 100 + i), name=f"embedding_{i}"
                )(inp)
            )
        )
    return mod.Model(inp, _head(mod, outs)), lambda rng, n: _token_task(rng, n, vocab)


def arch_recurrent(kind: str) -> Callable:
    def build(mod: Any, seed: int, big: bool) -> tuple[Any, Callable]:
        units, d_in = (32, 16) if big else (24, 24)
        layer = getattr(mod.layers, kind)
        inp = mod.Input((6, d_in))
        outs = [layer(units, name=f"{kind.lower()}_default")(inp)]
        for i, s in enumerate(pick_inits(3, seed)):
            outs.append(
                layer(
                    units,
                    kernel_initializer=make_init(mod, s, seed * 100 + i),
                    recurrent_initializer=make_init(mod, pick_inits(3, seed + 1)[i], seed * 100 + 50 + i),
                    name=f"{kind.lower()}_{i}",
                )(inp)
            )
        return mod.Model(inp, _head(mod, outs)), lambda rng, n: _sequence_task(rng, n, 6, d_in)

    return build


def arch_attention(mod: Any, seed: int, big: bool) -> tuple[Any, Callable]:
    dim, heads, key_dim = (64, 4, 16) if big else (48, 2, 24)
    inp = mod.Input((6, dim))
    default = mod.layers.MultiHeadAttention(heads, key_dim, name="mha_default")
    outs = [mod.layers.GlobalAveragePooling1D()(default(inp, inp))]
    for i, s in enumerate(pick_inits(2, seed)):
        mha = mod.layers.MultiHeadAttention(
            heads, key_dim, kernel_initializer=make_init(mod, s, seed * 100 + i), name=f"mha_{i}"
        )
        outs.append(mod.layers.GlobalAveragePooling1D()(mha(inp, inp)))
    return mod.Model(inp, _head(mod, outs)), lambda rng, n: _sequence_task(rng, n, 6, dim)


def arch_batchnorm(mod: Any, seed: int, big: bool) -> tuple[Any, Callable]:
    d_in, units = (32, 1024) if big else (32, 512)
    inp = mod.Input((d_in,))
    x = mod.layers.Dense(units, name="pre_bn")(inp)
    x = mod.layers.BatchNormalization(name="bn")(x)
    x = mod.layers.Activation("relu")(x)
    return mod.Model(inp, _head(mod, [x])), lambda rng, n: _vector_task(rng, n, (d_in,), shift=1.5)


ARCHITECTURES: dict[str, Callable] = {
    "dense": arch_dense,
    "conv2d": arch_conv,
    "separable_conv2d": arch_separable,
    "depthwise_conv2d": arch_depthwise,
    "embedding": arch_embedding,
    "lstm": arch_recurrent("LSTM"),
    "gru": arch_recurrent("GRU"),
    "multi_head_attention": arch_attention,
    "batch_normalization": arch_batchnorm,
}


def _classes(rng: np.random.Generator, features: np.ndarray) -> np.ndarray:
    teacher = rng.normal(size=(features.shape[1], 4))
    return np.argmax(features @ teacher, axis=1).astype("int32")


def _vector_task(rng: np.random.Generator, n: int, shape: tuple[int, ...], shift: float = 0.0):
    x = (rng.normal(size=(n, *shape)) * 2.0 + shift).astype("float32")
    return x, _classes(rng, x - shift)


def _image_task(rng: np.random.Generator, n: int, c: int):
    x = rng.normal(size=(n, 10, 10, c)).astype("float32")
    return x, _classes(rng, x.mean(axis=(1, 2)))


def _token_task(rng: np.random.Generator, n: int, vocab: int):
    x = rng.integers(0, vocab, size=(n, 12)).astype("int32")
    table = rng.normal(size=(vocab, 4))
    return x, np.argmax(table[x].sum(axis=1), axis=1).astype("int32")


def _sequence_task(rng: np.random.Generator, n: int, steps: int, d_in: int):
    x = rng.normal(size=(n, steps, d_in)).astype("float32")
    return x, _classes(rng, x.mean(axis=1))


# ------------------------------------------------------------------------------- variables and labels


def _serialise(init: Any) -> dict | None:
    if init is None:
        return None
    config = init.get_config() if hasattr(init, "get_config") else {}
    return {"class_name": type(init).__name__, "config": config}


def configured_initializers(model: Any) -> dict[int, dict | None]:
    """id(variable) -> the serialised initializer of the layer (or cell, or EinsumDense) that owns it."""
    found: dict[int, dict | None] = {}
    for layer in model._flatten_layers():
        for attr, init_attrs in INITIALIZER_ATTRIBUTES.items():
            try:
                var = getattr(layer, attr, None)
            except Exception:  # properties that raise before build
                continue
            if var is None or not (hasattr(var, "shape") and hasattr(var, "numpy")):
                continue
            init = next((getattr(layer, a) for a in init_attrs if getattr(layer, a, None) is not None), None)
            found.setdefault(id(var), _serialise(init))
    return found


def _var_name(var: Any) -> str:
    return str(getattr(var, "path", None) or var.name).removesuffix(":0")


def snapshot(model: Any) -> list[tuple[str, np.ndarray, dict | None]]:
    inits = configured_initializers(model)
    out = []
    for v in model.weights:
        value = np.array(v.numpy(), copy=True)
        if value.dtype.kind == "f":
            out.append((_var_name(v), value, inits.get(id(v))))
    return out


TARGET_DROP = 0.3
"""Training continues (2 epochs at a time, at most MAX_EPOCHS) until the loss has dropped by 30%."""
MAX_EPOCHS = 16


SGD_RATE = {"embedding": 5.0}
"""Embedding rows see averaged, sparse gradients: plain SGD needs a far larger rate to move them."""


def train(mod: Any, model: Any, task: Callable, seed: int, adam: bool, arch: str) -> tuple[float, float, int]:
    """Fit until the loss has clearly dropped; returns (loss before, loss after, epochs)."""
    rng = np.random.default_rng(seed)
    x, y = task(rng, 1024)
    opt = mod.optimizers.Adam(3e-3) if adam else mod.optimizers.SGD(SGD_RATE.get(arch, 0.1), momentum=0.9)
    kwargs = {"jit_compile": False} if mod.__name__ == "keras" else {}
    model.compile(optimizer=opt, loss=mod.losses.SparseCategoricalCrossentropy(from_logits=True), **kwargs)
    before = float(model.evaluate(x, y, verbose=0, batch_size=256))
    epochs, after = 0, before
    while epochs < MAX_EPOCHS and after > (1 - TARGET_DROP) * before:
        model.fit(x, y, batch_size=64, epochs=2, verbose=0)
        epochs += 2
        after = float(model.evaluate(x, y, verbose=0, batch_size=256))
    return before, after, epochs


def build_model_set(log: Callable[[str], None]) -> list[Labelled]:
    import keras
    import tensorflow as tf
    import tf_keras

    labelled: list[Labelled] = []
    for origin, mod in (("keras3", keras), ("tf_keras", tf_keras)):
        for arch, build in ARCHITECTURES.items():
            for seed in FRESH_SEEDS:
                mod.utils.set_random_seed(seed)
                model, _ = build(mod, seed, big=seed != 1)
                labelled += [Labelled(origin, f"{arch}/s{seed}/{n}", v, "fresh", i) for n, v, i in snapshot(model)]
            seed = 100
            mod.utils.set_random_seed(seed)
            model, task = build(mod, seed, big=True)
            initial = snapshot(model)
            labelled += [Labelled(origin, f"{arch}/s{seed}/{n}", v, "fresh", i) for n, v, i in initial]
            t0 = time.time()
            before, after, epochs = train(mod, model, task, seed, adam=origin == "keras3", arch=arch)
            final = snapshot(model)
            unchanged = 0
            for (n, v0, init), (_, v1, _) in zip(initial, final):
                if np.array_equal(v0, v1):
                    unchanged += 1
                    continue
                labelled.append(Labelled(origin, f"{arch}/trained/{n}", v1, "trained", init, initial=v0))
            log(
                f"  trained {origin:8s} {arch:21s} {'Adam' if origin == 'keras3' else 'SGD '} loss {before:.3f} -> "
                f"{after:.3f} ({100 * (1 - after / before):.0f}% drop, {epochs} epochs, {time.time() - t0:.1f}s); "
                f"{unchanged} variable(s) unchanged, excluded"
            )
            mod.backend.clear_session()
    labelled += tf1_initializers(tf)
    return labelled


def tf1_initializers(tf: Any) -> list[Labelled]:
    """TF1 initializers called directly (they build no model)."""
    v1 = tf.compat.v1
    makers = {
        "glorot_uniform_initializer": lambda s: v1.glorot_uniform_initializer(seed=s),
        "glorot_normal_initializer": lambda s: v1.glorot_normal_initializer(seed=s),
        "variance_scaling_initializer": lambda s: v1.variance_scaling_initializer(seed=s),
        "truncated_normal_initializer(0.02)": lambda s: v1.truncated_normal_initializer(stddev=0.02, seed=s),
        "random_normal_initializer(0.01)": lambda s: v1.random_normal_initializer(stddev=0.01, seed=s),
        "random_uniform_initializer(-0.05,0.05)": lambda s: v1.random_uniform_initializer(-0.05, 0.05, seed=s),
        "orthogonal_initializer": lambda s: v1.orthogonal_initializer(seed=s),
    }
    out = []
    for name, make in makers.items():
        for seed, shape in enumerate([(256, 128), (3, 3, 32, 64), (1000, 64)]):
            init = make(seed)
            value = np.asarray(init(shape, dtype=tf.float32))
            out.append(
                Labelled(
                    "tf1",
                    f"{name}{shape}",
                    value,
                    "fresh",
                    {"class_name": type(init).__name__, "config": init.get_config()},
                )
            )
    return out


def realworld_set(log: Callable[[str], None]) -> tuple[list[Labelled], list[Any]]:
    base = ROOT.parent / "shared" / "realworld"
    out, files = [], []
    try:
        import h5py
    except ImportError:
        log("  h5py missing: real-world models skipped")
        return out, files
    for rel in REALWORLD_FILES:
        path = base / rel
        if not path.is_file():
            log(f"  {path} absent: skipped")
            continue
        f = h5py.File(path, "r")
        files.append(f)

        def visit(name: str, obj: Any, rel: str = rel) -> None:
            if isinstance(obj, h5py.Dataset) and obj.dtype.kind == "f":
                out.append(Labelled("realworld", f"{rel}:{name}", None, "trained", h5=obj))

        f.visititems(visit)
    return out, files


# ------------------------------------------------------------------- whole artifacts, full pipeline

REALWORLD_ARTIFACTS = (
    "keras3_mnist/mnist_model.keras",
    "keras3_mnist/mnist_model.h5",
    "keras2_face/gender_mini_XCEPTION.21-0.95.hdf5",
    "tf_keras_lso/lso_ckpt_tf2.2/ckpt",
    "tf_keras_lso/lso_savedmodel_tf2.2",
    "tf2onnx/regression/checkpoint/model",
    "tf_serving/saved_model_half_plus_two_tf2_cpu/00000123",
    "tf_text/segmenter_hub_module",
)
"""Every real artifact the issue's target is stated on: trained by their authors."""


def _model_verdicts(path: str) -> list[tuple[str, str, str]]:
    """(key, verdict, evidence) of every float model tensor of two or more values, through `inspect_artifact`."""
    from ckptdiff.commands.inspect import inspect_artifact
    from ckptdiff.formats import open_artifact

    with open_artifact(path) as artifact:
        report = inspect_artifact(artifact, group="model")
    return [
        (row.key, row.init.verdict, row.init.evidence)
        for row in report.tensors
        if row.init is not None and row.stats is not None and row.stats.count >= 2 and "float" in row.dtype
    ]


def pipeline_section(log: Callable[[str], None]) -> None:
    """The targets stated on whole artifacts: real trained models decided, untrained real architectures fresh."""
    import tempfile

    log("\n== whole artifacts (inspect pipeline: roles, config, optimizer slots) ==")
    base = ROOT.parent / "shared" / "realworld"
    total = decided = fresh = 0
    for rel in REALWORLD_ARTIFACTS:
        path = base / rel
        if not (path.exists() or Path(str(path) + ".index").exists()):
            log(f"  {rel}: absent, skipped")
            continue
        rows = _model_verdicts(str(path))
        n_dec = sum(v != "inconclusive" for _, v, _ in rows)
        n_fresh = sum(v == "fresh" for _, v, _ in rows)
        total, decided, fresh = total + len(rows), decided + n_dec, fresh + n_fresh
        log(f"  trained {rel}: {n_dec}/{len(rows)} decided, {n_fresh} called fresh")
        for key, verdict, evidence in rows:
            if verdict != "trained":
                log(f"    [{verdict}] {key} | {evidence}")
    if total:
        log(
            f"  real trained models: {decided}/{total} = {decided / total:.1%} decided (target 90%), {fresh} fresh (target 0)"
        )
    import keras
    import tf_keras

    builders = (
        ("keras3 MobileNetV2", lambda: keras.applications.MobileNetV2(weights=None, input_shape=(96, 96, 3))),
        ("keras3 ResNet50", lambda: keras.applications.ResNet50(weights=None, input_shape=(64, 64, 3))),
        ("keras3 EfficientNetB0", lambda: keras.applications.EfficientNetB0(weights=None, input_shape=(64, 64, 3))),
        ("keras3 DenseNet121", lambda: keras.applications.DenseNet121(weights=None, input_shape=(64, 64, 3))),
        ("tf_keras MobileNet", lambda: tf_keras.applications.MobileNet(weights=None, input_shape=(96, 96, 3))),
        ("tf_keras ResNet50V2", lambda: tf_keras.applications.ResNet50V2(weights=None, input_shape=(64, 64, 3))),
    )
    total = fresh = 0
    with tempfile.TemporaryDirectory() as tmp:
        for name, build in builders:
            model = build()
            path = Path(tmp) / (name.replace(" ", "_") + (".weights.h5" if name.startswith("keras3") else ".h5"))
            model.save_weights(str(path))
            rows = _model_verdicts(str(path))
            n_fresh = sum(v == "fresh" for _, v, _ in rows)
            total, fresh = total + len(rows), fresh + n_fresh
            others = [(k, v, e) for k, v, e in rows if v != "fresh"]
            log(f"  untrained {name}: {n_fresh}/{len(rows)} fresh")
            for key, verdict, evidence in others[:MAX_LISTED]:
                log(f"    [{verdict}] {key} | {evidence}")
            if len(others) > MAX_LISTED:
                log(f"    ... and {len(others) - MAX_LISTED} more")
            path.unlink()
    log(f"  untrained real architectures: {fresh}/{total} = {fresh / total:.1%} fresh (target 95%)")


# ------------------------------------------------------------------------------------------- scoring


def judge(item: Labelled, mode: str) -> Any:
    if item.h5 is not None:
        entry = TensorEntry(item.name, tuple(item.h5.shape), item.h5.dtype.name, "model", H5DatasetSource(item.h5))
    else:
        value = np.asarray(item.value)
        entry = TensorEntry(item.name, tuple(value.shape), value.dtype.name, "model", ArraySource(value))
    stats = compute_stats(entry.iter_chunks(), entry.dtype)
    role = role_from_name(item.name) if "optimizer" not in item.name else None
    return assess_init(entry, stats, initializer=item.initializer if mode == "check" else None, role=role)


def _ratio(num: int, den: int) -> str:
    return f"{num / den:.4f}" if den else "n/a"


def _scores_table(pairs: list[tuple[str, str]], subset: str, log: Callable[[str], None]) -> None:
    """One row of counts, precision and recall, then the confusion matrix."""
    row = f"{subset:18s} {sum(lab == 'fresh' for lab, _ in pairs):6d} {sum(lab == 'trained' for lab, _ in pairs):7d}  "
    for cls in ("fresh", "trained"):
        tp = sum(lab == cls and ver == cls for lab, ver in pairs)
        predicted = sum(ver == cls for _, ver in pairs)
        actual = sum(lab == cls for lab, _ in pairs)
        row += f" {_ratio(tp, predicted):>10s} {_ratio(tp, actual):>10s}"
    log(row)
    log(f"  confusion ({subset}): label -> verdict counts")
    for lab in ("fresh", "trained"):
        counts = [sum(l2 == lab and v2 == ver for l2, v2 in pairs) for ver in ("fresh", "trained", "inconclusive")]
        log(f"    {lab:8s} fresh {counts[0]:5d}  trained {counts[1]:5d}  inconclusive {counts[2]:5d}")


def _shape(item: Labelled) -> tuple[int, ...]:
    return tuple(item.h5.shape if item.h5 is not None else item.value.shape)


def report(items: list[Labelled], verdicts: list[Any], mode: str, log: Callable[[str], None]) -> None:
    log(f"\n== mode: {mode} ==")
    log(
        f"{'subset':18s} {'fresh':>6s} {'trained':>7s}   {'P(fresh)':>10s} {'R(fresh)':>10s} "
        f"{'P(trained)':>10s} {'R(trained)':>10s}"
    )
    subsets: tuple[tuple[str, Callable[[Labelled], bool]], ...] = (
        ("all", lambda it: True),
        (">= 2 values", lambda it: it.size >= 2),
        (f">= {BIG} values", lambda it: it.size >= BIG),
    )
    for subset, keep in subsets:
        _scores_table([(it.label, v.verdict) for it, v in zip(items, verdicts) if keep(it)], subset, log)
    real = [v.verdict for it, v in zip(items, verdicts) if it.origin == "realworld"]
    if real:
        log(
            f"  real-world tensors: {len(real)}, called fresh: {real.count('fresh')}, "
            f"trained: {real.count('trained')}, inconclusive: {real.count('inconclusive')}"
        )
    errors = [(it, v) for it, v in zip(items, verdicts) if v.verdict not in ("inconclusive", it.label)]
    log(f"  errors (verdict contradicts label): {len(errors)}")
    for it, v in errors:
        log(
            f"    [{it.label}->{v.verdict}] {it.origin}:{it.name} {_shape(it)}{it.moved} match={v.match} | {v.evidence}"
        )
    misses = [
        (it, v)
        for it, v in zip(items, verdicts)
        if it.size >= BIG and it.label == "fresh" and v.verdict == "inconclusive"
    ]
    log(f"  fresh tensors >= {BIG} values left inconclusive: {len(misses)}")
    for it, v in misses[:MAX_LISTED]:
        log(f"    {it.origin}:{it.name} {_shape(it)} match={v.match} | {v.evidence}")
    if len(misses) > MAX_LISTED:
        matches = ", ".join(sorted({str(v.match) for _, v in misses}))
        log(f"    ... and {len(misses) - MAX_LISTED} more; matches: {matches}")
    if os.environ.get("BENCH_VERBOSE"):
        for it, v in zip(items, verdicts):
            if it.label == "fresh" and v.verdict == "inconclusive" and it.size < BIG:
                log(f"    (fresh, inconclusive) {it.origin}:{it.name} {_shape(it)} match={v.match} | {v.evidence}")
        for it, v in zip(items, verdicts):
            if it.size >= BIG and it.label == "trained" and v.verdict == "inconclusive":
                log(f"    (trained, inconclusive) {it.origin}:{it.name}{it.moved} match={v.match} | {v.evidence}")


def main() -> int:
    started = time.time()
    lines: list[str] = []

    def log(line: str) -> None:
        print(line, flush=True)
        lines.append(line)

    log(
        f"bench-detect  {datetime.datetime.now().isoformat(timespec='seconds')}  "
        f"{platform.node()}  {platform.platform()}  python {platform.python_version()}  cpus {os.cpu_count()}"
    )
    import keras
    import tensorflow as tf
    import tf_keras

    log(
        f"tensorflow {tf.__version__}  keras {keras.__version__}  tf_keras {tf_keras.__version__}  "
        f"numpy {np.__version__}"
    )
    log("building and training models:")
    items = build_model_set(log)
    real, files = realworld_set(log)
    items += real
    built = time.time()
    n_fresh = sum(1 for it in items if it.label == "fresh")
    log(
        f"labelled set: {len(items)} tensors ({n_fresh} fresh, {len(items) - n_fresh} trained, of which "
        f"{len(real)} real-world); {sum(1 for it in items if it.size >= BIG)} with >= {BIG} values; "
        f"built in {built - started:.1f}s"
    )
    for mode in ("inspect", "check"):
        t0 = time.time()
        verdicts = [judge(it, mode) for it in items]
        report(items, verdicts, mode, log)
        log(f"  detector time ({mode}): {time.time() - t0:.1f}s for {len(items)} tensors")
    for f in files:
        f.close()
    pipeline_section(log)
    log(f"\ntotal runtime {time.time() - started:.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
