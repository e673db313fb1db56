"""The oracle for the restore scenarios: run the REAL loader and see which variables it really restored.

For each scenario the live model is built from its factory, every variable's fresh value is
recorded, then every variable is overwritten with a sentinel (so "restored" never depends on a
fresh value that happens to equal the saved one, like a zero bias that was never trained). The
loader a user would call runs next; its exception, if any, is caught. A variable counts as
restored when its value left the sentinel and now equals a tensor of the artifact, read back
with TensorFlow's or h5py's own readers (`sources` names every key holding that value).

Variables are labelled the way people name them (`dense_1/kernel`, `model_scope/dense/bias`,
`m/dense/kernel`) and looked up by (label, shape), which stays unique even when a
tf.train.Checkpoint of a Keras 3 model has three variables called `kernel`.
"""

from __future__ import annotations

import contextlib
import gc
import importlib.util
import io
import logging
import sys
import warnings
import zipfile
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
SCENARIO_MODELS = "sample_checkpoints/scenario_models.py"
MODELS = "sample_checkpoints/models.py"
SENTINEL = 7777

# The loader calls the oracle knows how to make.
CHECKPOINT_MODEL = "tf.train.Checkpoint(model=live).read(path)"
CHECKPOINT_ROOT = "tf.train.Checkpoint(live).read(path)"
CHECKPOINT_SELF = "live.read(path)  # live is a tf.train.Checkpoint"
TF_KERAS_LOAD = "live.load_weights(path)  # tf_keras"
TF_KERAS_LOAD_BY_NAME = "live.load_weights(path, by_name=True)  # tf_keras"
KERAS3_LOAD = "live.load_weights(path)  # Keras 3"
SAVER = "tf.compat.v1.train.Saver(var_list=live.variables).restore(None, path)"
SAVER_REWRITE = "tf.compat.v1.train.Saver(var_list={rewritten name: var}).restore(None, path)"
INIT_FROM_CHECKPOINT_EAGER = "tf.compat.v1.train.init_from_checkpoint(path, assignment_map)  # eager, on the tf.Module"
INIT_FROM_CHECKPOINT_GRAPH = "tf.compat.v1.train.init_from_checkpoint(path, assignment_map)  # TF1 graph, get_variable"
INIT_FROM_CHECKPOINT_PAIRS = "tf.compat.v1.train.init_from_checkpoint(path, {key: variable})  # eager, per variable"


@dataclass(frozen=True)
class Scenario:
    """One artifact, the live model it is restored into, and the loader call a user would make."""

    name: str
    artifact: str
    """Relative to the repo root, as given to `ckptdiff check`."""
    model: str
    """The --model SPEC."""
    call: str
    """One of the loader calls above."""
    assignment_map: dict[str, str] | None = None
    """For the rewrite / init_from_checkpoint calls: checkpoint scope -> model scope."""


def _s(name: str) -> str:
    return f"sample_checkpoints/scenarios/{name}"


SCOPE_MAP = {"another_scope/": "model_scope/"}
PAIR_MAP = {
    f"another_scope/{layer}/{w}": f"model_scope/{layer}/{w}"
    for layer in ("dense", "dense_1", "dense_2")
    for w in ("kernel", "bias")
}
"""The per-variable form of the rewrite: checkpoint key -> variable name."""

SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario("scope_mistake", _s("scope_mistake/model.ckpt"), f"{SCENARIO_MODELS}:tf1_module", SAVER),
        Scenario(
            "scope_mistake.saver_rewrite",
            _s("scope_mistake/model.ckpt"),
            f"{SCENARIO_MODELS}:tf1_module",
            SAVER_REWRITE,
            SCOPE_MAP,
        ),
        Scenario(
            "scope_mistake.init_eager",
            _s("scope_mistake/model.ckpt"),
            f"{SCENARIO_MODELS}:tf1_module",
            INIT_FROM_CHECKPOINT_EAGER,
            SCOPE_MAP,
        ),
        Scenario(
            "scope_mistake.init_pairs",
            _s("scope_mistake/model.ckpt"),
            f"{SCENARIO_MODELS}:tf1_module",
            INIT_FROM_CHECKPOINT_PAIRS,
            PAIR_MAP,
        ),
        Scenario(
            "scope_mistake.init_graph",
            _s("scope_mistake/model.ckpt"),
            f"{SCENARIO_MODELS}:tf1_module",
            INIT_FROM_CHECKPOINT_GRAPH,
            SCOPE_MAP,
        ),
        Scenario(
            "renamed_layer.tf2",
            _s("renamed_layer/tf2/ckpt"),
            f"{SCENARIO_MODELS}:renamed_subclassed_mlp",
            CHECKPOINT_MODEL,
        ),
        Scenario(
            "renamed_layer.legacy_h5",
            _s("renamed_layer/legacy.h5"),
            f"{SCENARIO_MODELS}:renamed_tf_keras_mlp",
            TF_KERAS_LOAD,
        ),
        Scenario(
            "renamed_layer.legacy_h5.by_name",
            _s("renamed_layer/legacy.h5"),
            f"{SCENARIO_MODELS}:renamed_tf_keras_mlp",
            TF_KERAS_LOAD_BY_NAME,
        ),
        Scenario(
            "renamed_layer.weights_h5",
            _s("renamed_layer/model.weights.h5"),
            f"{SCENARIO_MODELS}:renamed_keras3_mlp",
            KERAS3_LOAD,
        ),
        Scenario("inserted_layer", _s("inserted_layer/ckpt"), f"{SCENARIO_MODELS}:inserted_abc", TF_KERAS_LOAD),
        Scenario("class_count.tf2", _s("class_count/tf2/ckpt"), f"{SCENARIO_MODELS}:five_class_mlp", CHECKPOINT_MODEL),
        Scenario(
            "class_count.weights_h5",
            _s("class_count/model.weights.h5"),
            f"{SCENARIO_MODELS}:five_class_mlp",
            KERAS3_LOAD,
        ),
        Scenario("use_bias", _s("use_bias/ckpt"), f"{SCENARIO_MODELS}:bias_mlp", CHECKPOINT_MODEL),
        Scenario(
            "partial_optimizer", _s("partial_optimizer/ckpt"), f"{SCENARIO_MODELS}:tf_keras_checkpoint", CHECKPOINT_SELF
        ),
        Scenario(
            "partial_optimizer.legacy",
            _s("partial_optimizer/legacy/ckpt"),
            f"{SCENARIO_MODELS}:tf_keras_legacy_checkpoint",
            CHECKPOINT_SELF,
        ),
        Scenario(
            "keras3_model_and_optimizer",
            "sample_checkpoints/tf2",
            f"{SCENARIO_MODELS}:keras3_checkpoint",
            CHECKPOINT_SELF,
        ),
        # The healthy corpus, each against its own model.
        Scenario("healthy.tf2", "sample_checkpoints/tf2", f"{MODELS}:build_keras3", CHECKPOINT_MODEL),
        Scenario(
            "healthy.tf2_sharded", "sample_checkpoints/tf2_sharded/ckpt", f"{MODELS}:build_keras3", CHECKPOINT_MODEL
        ),
        Scenario("healthy.tf1", "sample_checkpoints/tf1/model.ckpt", f"{SCENARIO_MODELS}:tf1_module", SAVER),
        Scenario("healthy.tf1_v1", "sample_checkpoints/tf1_v1/model.ckpt", f"{SCENARIO_MODELS}:tf1_module", SAVER),
        Scenario(
            "healthy.keras2_model_h5", "sample_checkpoints/keras2/model.h5", f"{MODELS}:build_tf_keras", TF_KERAS_LOAD
        ),
        Scenario(
            "healthy.keras2_weights_only",
            "sample_checkpoints/keras2/weights_only.h5",
            f"{MODELS}:build_tf_keras",
            TF_KERAS_LOAD,
        ),
        Scenario(
            "healthy.keras2_tf_weights",
            "sample_checkpoints/keras2/tf_weights/ckpt",
            f"{MODELS}:build_tf_keras",
            TF_KERAS_LOAD,
        ),
        Scenario(
            "healthy.keras3_weights_h5",
            "sample_checkpoints/keras3/model.weights.h5",
            f"{MODELS}:build_keras3",
            KERAS3_LOAD,
        ),
        Scenario(
            "healthy.keras3_archive", "sample_checkpoints/keras3/model.keras", f"{MODELS}:build_keras3", KERAS3_LOAD
        ),
        Scenario(
            "healthy.keras3_legacy_h5", "sample_checkpoints/keras3/legacy.h5", f"{MODELS}:build_keras3", KERAS3_LOAD
        ),
        Scenario(
            "healthy.keras3_rebuilt",
            "sample_checkpoints/keras3/model.weights.h5",
            "sample_checkpoints/keras3/model.keras",
            KERAS3_LOAD,
        ),
        Scenario("healthy.saved_model", "sample_checkpoints/saved_model", f"{MODELS}:build_keras3", CHECKPOINT_ROOT),
        Scenario(
            "keras3_inserted_layer.weights_h5",
            _s("keras3_inserted_layer/model.weights.h5"),
            f"{SCENARIO_MODELS}:inserted_abc_keras3",
            KERAS3_LOAD,
        ),
        Scenario(
            "keras3_inserted_layer.archive",
            _s("keras3_inserted_layer/model.keras"),
            f"{SCENARIO_MODELS}:inserted_abc_keras3",
            KERAS3_LOAD,
        ),
        Scenario(
            "keras3_unbuilt_optimizer",
            "sample_checkpoints/keras3/model.keras",
            f"{SCENARIO_MODELS}:compiled_keras3_unbuilt_optimizer",
            KERAS3_LOAD,
        ),
    )
}


@dataclass(frozen=True)
class VariableOutcome:
    """What the real loader did to one live variable."""

    path: str
    shape: tuple[int, ...]
    restored: bool
    """The value left the sentinel and equals a tensor of the artifact."""
    changed: bool
    """The value left the sentinel (restored, or overwritten with something not in the artifact)."""
    sources: tuple[str, ...]
    """Artifact keys whose tensor equals the final value."""
    fresh: np.ndarray = field(repr=False, compare=False)
    final: np.ndarray = field(repr=False, compare=False)


@dataclass(frozen=True)
class RestoreOutcome:
    """What one real restore did, variable by variable."""

    scenario: Scenario
    variables: tuple[VariableOutcome, ...]
    error: str | None
    """The exception class the loader raised, or None."""
    message: str
    slots: tuple[VariableOutcome, ...] = ()
    """Legacy optimizer slot variables (`<var path>/m`), which are not children in the object graph."""

    def lookup(self, path: str, shape: tuple[int, ...] | list[int]) -> VariableOutcome:
        """The one variable with this label and shape."""
        found = [v for v in self.variables if v.path == path and v.shape == tuple(shape)]
        assert len(found) == 1, f"{self.scenario.name}: {len(found)} oracle variables labelled {path} {tuple(shape)}"
        return found[0]

    def restored_paths(self) -> set[str]:
        return {v.path for v in self.variables if v.restored}


# --------------------------------------------------------------------------- building the live model
def build_live(spec: str) -> Any:
    """Run the factory a SPEC names, or rebuild a .keras archive's architecture (fresh values)."""
    if spec.endswith(".keras"):
        import json

        import keras

        with zipfile.ZipFile(ROOT / spec) as z:
            config = json.loads(z.read("config.json"))
        return keras.saving.deserialize_keras_object(config, safe_mode=True)
    target, _, attr = spec.rpartition(":")
    path = ROOT / target
    name = f"oracle_{path.stem}"
    if name not in sys.modules:
        module_spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(module_spec)
        sys.modules[name] = module
        module_spec.loader.exec_module(module)
    return getattr(sys.modules[name], attr)()


def _is_variable(obj: Any) -> bool:
    import tensorflow as tf

    keras = sys.modules.get("keras")
    return isinstance(obj, tf.Variable) or (keras is not None and isinstance(obj, keras.Variable))


def _short(var: Any) -> str:
    name = str(var.name)
    return name[:-2] if name.endswith(":0") else name


def _keras3_model(obj: Any) -> bool:
    keras = sys.modules.get("keras")
    return keras is not None and isinstance(obj, keras.Model)


def labelled_variables(live: Any) -> list[tuple[str, Any]]:
    """Every variable of the live object with the label people use for it."""
    import tensorflow as tf

    seen: dict[int, tuple[str, Any]] = {}

    def label_keras3(model: Any) -> None:
        stack = list(model.layers)
        while stack:
            layer = stack.pop()
            for w in layer.weights:
                seen.setdefault(id(w), (f"{layer.name}/{w.name}", w))
            stack.extend(getattr(layer, "layers", []) or [])
        if getattr(model, "optimizer", None) is not None:
            for w in model.optimizer.variables:
                seen.setdefault(id(w), (f"optimizer/{w.name}", w))

    if _keras3_model(live):
        label_keras3(live)
        return list(seen.values())
    # A tf.train.Checkpoint or tf.Module holding Keras 3 models: their variables by layer, as above;
    # a Keras 3 optimizer's variables as optimizer/<name>.
    for child in tf.train.TrackableView(live).children(live).values():
        if _keras3_model(child):
            label_keras3(child)
        elif type(child).__module__.startswith("keras") and isinstance(
            getattr(child, "variables", None), (list, tuple)
        ):
            for w in child.variables:
                seen.setdefault(id(w), (f"optimizer/{w.name}", w))
    # Everything else: breadth-first over the checkpoint dependencies, labelled by var.name.
    view = tf.train.TrackableView(live)
    queue, visited = deque([live]), {id(live)}
    while queue:
        obj = queue.popleft()
        if _is_variable(obj):
            seen.setdefault(id(obj), (_short(obj), obj))
            continue
        try:
            children = view.children(obj)
        except Exception:
            children = {}
        for child in children.values():
            if id(child) not in visited:
                visited.add(id(child))
                queue.append(child)
    for var in getattr(live, "variables", []) or []:
        seen.setdefault(id(var), (_short(var), var))
    return list(seen.values())


def _legacy_slots(live: Any) -> list[tuple[str, Any]]:
    """(`<var label>/<slot>`, slot variable) for a legacy tf_keras optimizer inside a tf.train.Checkpoint."""
    optimizer = getattr(live, "optimizer", None)
    model = getattr(live, "model", None)
    if optimizer is None or model is None or not hasattr(optimizer, "get_slot_names"):
        return []
    found = []
    for var in model.trainable_variables:
        for slot in optimizer.get_slot_names():
            found.append((f"{_short(var)}/{slot}", optimizer.get_slot(var, slot)))
    return found


def _value(var: Any) -> np.ndarray:
    return np.array(var.numpy(), copy=True)


def _sentinel(var: Any, i: int) -> np.ndarray:
    value = _value(var)
    return np.full(value.shape, SENTINEL + i, dtype=value.dtype)


# --------------------------------------------------------------------------- the artifact's own values
def artifact_values(path: Path) -> dict[str, np.ndarray]:
    """Every tensor of a file or checkpoint prefix (see loader_path), read with TensorFlow's / h5py's own readers.

    Keys are the checkpoint keys, or the HDF5 dataset paths (inside the archive for .keras).
    """
    import h5py
    import tensorflow as tf

    text = str(path)
    if text.endswith(".keras"):
        with zipfile.ZipFile(path) as z:
            return _h5_values(h5py.File(io.BytesIO(z.read("model.weights.h5")), "r"))
    if text.endswith((".h5", ".hdf5")):
        with h5py.File(path, "r") as f:
            return _h5_values(f)
    reader = tf.train.load_checkpoint(str(path))
    return {
        key: np.asarray(reader.get_tensor(key))
        for key in reader.get_variable_to_shape_map()
        if key != "_CHECKPOINTABLE_OBJECT_GRAPH"
    }


def _h5_values(f: Any) -> dict[str, np.ndarray]:
    import h5py

    values: dict[str, np.ndarray] = {}

    def visit(name: str, obj: Any) -> None:
        if isinstance(obj, h5py.Dataset):
            values[name] = np.asarray(obj[()])

    f.visititems(visit)
    return values


# --------------------------------------------------------------------------- the loader calls
def _rewrite(name: str, assignment_map: dict[str, str]) -> str:
    """The checkpoint name a model variable is read from under a scope assignment map."""
    for ckpt_scope, model_scope in assignment_map.items():
        if name.startswith(model_scope):
            return ckpt_scope + name[len(model_scope) :]
    return name


def loader_path(artifact: Path) -> str:
    """What the user hands the loader: the latest checkpoint of a directory, a SavedModel's variables prefix."""
    import tensorflow as tf

    if artifact.is_dir() and (artifact / "saved_model.pb").exists():
        return str(artifact / "variables" / "variables")
    if artifact.is_dir():
        latest = tf.train.latest_checkpoint(str(artifact))
        assert latest is not None, f"{artifact}: no checkpoint state file"
        return latest
    return str(artifact)


def _loader(scenario: Scenario, live: Any, path: str) -> Callable[[], Any]:
    import tensorflow as tf

    call = scenario.call
    if call == CHECKPOINT_MODEL:
        return lambda: tf.train.Checkpoint(model=live).read(path).expect_partial()
    if call == CHECKPOINT_ROOT:
        return lambda: tf.train.Checkpoint(live).read(path).expect_partial()
    if call == CHECKPOINT_SELF:
        return lambda: live.read(path).expect_partial()
    if call in (TF_KERAS_LOAD, KERAS3_LOAD):
        return lambda: live.load_weights(path)
    if call == TF_KERAS_LOAD_BY_NAME:
        return lambda: live.load_weights(path, by_name=True)
    if call == SAVER:
        return lambda: tf.compat.v1.train.Saver(var_list=list(live.variables)).restore(None, path)
    if call == SAVER_REWRITE:
        var_list = {_rewrite(_short(v), scenario.assignment_map): v for v in live.variables}
        return lambda: tf.compat.v1.train.Saver(var_list=var_list).restore(None, path)
    if call == INIT_FROM_CHECKPOINT_EAGER:
        return lambda: tf.compat.v1.train.init_from_checkpoint(path, scenario.assignment_map)
    if call == INIT_FROM_CHECKPOINT_PAIRS:
        by_name = {_short(v): v for v in live.variables}
        mapping = {key: by_name[name] for key, name in scenario.assignment_map.items()}
        return lambda: tf.compat.v1.train.init_from_checkpoint(path, mapping)
    raise ValueError(f"unknown loader call {call!r}")


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Silence the deprecation chatter of the v1 Saver and Keras' H5 loaders."""
    import tensorflow as tf

    logger = tf.get_logger()
    level = logger.level
    logger.setLevel(logging.ERROR)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            yield
        finally:
            logger.setLevel(level)


def _outcomes(
    labelled: list[tuple[str, Any]],
    fresh: list[np.ndarray],
    sentinels: list[np.ndarray],
    finals: list[np.ndarray],
    values: dict[str, np.ndarray],
) -> tuple[VariableOutcome, ...]:
    out = []
    for (label, _), f, s, final in zip(labelled, fresh, sentinels, finals):
        sources = tuple(sorted(k for k, v in values.items() if v.shape == final.shape and np.array_equal(v, final)))
        changed = not np.array_equal(final, s)
        out.append(VariableOutcome(label, tuple(final.shape), changed and bool(sources), changed, sources, f, final))
    return tuple(out)


def restore(scenario: Scenario) -> RestoreOutcome:
    """Build the live model, sentinel every variable, run the real loader, see what changed."""
    if scenario.call == INIT_FROM_CHECKPOINT_GRAPH:
        return _restore_tf1_graph(scenario)
    path = loader_path(ROOT / scenario.artifact)
    live = build_live(scenario.model)
    labelled = labelled_variables(live) + _legacy_slots(live)
    fresh = [_value(v) for _, v in labelled]
    sentinels = [_sentinel(v, i) for i, (_, v) in enumerate(labelled)]
    for (_, var), s in zip(labelled, sentinels):
        var.assign(s)
    error, message = None, ""
    load = _loader(scenario, live, path)
    with _quiet():
        try:
            load()
        except Exception as exc:  # the oracle records what the real call raises
            error, message = type(exc).__name__, str(exc)
        gc.collect()  # TensorFlow warns about unrestored values when the status object dies
    values = artifact_values(Path(path))
    finals = [_value(v) for _, v in labelled]
    outcomes = _outcomes(labelled, fresh, sentinels, finals, values)
    n_slots = len(_legacy_slots(live))
    variables = outcomes[: len(outcomes) - n_slots] if n_slots else outcomes
    slots = outcomes[len(outcomes) - n_slots :] if n_slots else ()
    return RestoreOutcome(scenario, variables, error, message, slots)


def _restore_tf1_graph(scenario: Scenario) -> RestoreOutcome:
    """TF1 code: the live variables recreated with get_variable in a graph, then init_from_checkpoint."""
    import tensorflow as tf

    v1 = tf.compat.v1
    template = [(_short(v), _value(v)) for v in build_live(scenario.model).variables]
    path = loader_path(ROOT / scenario.artifact)
    graph = tf.Graph()
    error, message = None, ""
    with graph.as_default():
        variables = []
        for i, (name, value) in enumerate(template):
            scope, _, leaf = name.rpartition("/")
            with v1.variable_scope(scope):
                variables.append(
                    v1.get_variable(
                        leaf, value.shape, tf.as_dtype(value.dtype), initializer=v1.constant_initializer(SENTINEL + i)
                    )
                )
        try:
            v1.train.init_from_checkpoint(path, scenario.assignment_map)
        except Exception as exc:
            error, message = type(exc).__name__, str(exc)
        with v1.Session(graph=graph) as sess:
            sess.run(v1.global_variables_initializer())
            finals = [np.asarray(x) for x in sess.run(variables)]
    labelled = [(name, None) for name, _ in template]
    fresh = [value for _, value in template]
    sentinels = [np.full(value.shape, SENTINEL + i, dtype=value.dtype) for i, (_, value) in enumerate(template)]
    values = artifact_values(Path(path))
    return RestoreOutcome(scenario, _outcomes(labelled, fresh, sentinels, finals, values), error, message)


def restore_all(names: list[str] | None = None) -> dict[str, RestoreOutcome]:
    """Every scenario's real restore, in one process."""
    return {name: restore(SCENARIOS[name]) for name in (names or list(SCENARIOS))}


if __name__ == "__main__":  # a readable dump: python -m tests.match.oracle [scenario ...]
    import os

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    for name, outcome in restore_all(sys.argv[1:] or None).items():
        print(f"== {name}: {outcome.scenario.call}")
        if outcome.error:
            print(f"   raises {outcome.error}: {' '.join(outcome.message.split())[:300]}")
        for v in outcome.variables + outcome.slots:
            state = "restored" if v.restored else ("CHANGED" if v.changed else "-")
            print(f"   {v.path:45} {str(v.shape):10} {state:9} {', '.join(v.sources)[:90]}")
