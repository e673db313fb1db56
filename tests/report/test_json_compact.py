"""The compact inspect JSON (documents past PRETTY_LIMIT tensors) is written row by row without building a
document of dictionaries; it must be byte for byte what json.dumps writes for the same document."""

from __future__ import annotations

import json

import pytest

from ckptdiff import api
from ckptdiff.report import json as report_json
from tests.conftest import SAMPLES

SAMPLES_WITH_EVERY_KIND_OF_VALUE = [
    "fresh/nan/ckpt",  # NaN and Inf: null moments
    "tf2",  # an object graph: paths and model paths
    "keras3/model.weights.h5",
    "formats/keras213/model.keras",  # metadata, renumbered containers
    "formats/orbax/keras_callback",
]


@pytest.mark.parametrize("name", SAMPLES_WITH_EVERY_KIND_OF_VALUE)
@pytest.mark.parametrize("verify", [False, True])
def test_compact_rows_equal_json_dumps_of_the_document(monkeypatch, name, verify):
    path = SAMPLES / name
    report = api.inspect(path, verify=verify)
    pretty = json.loads(report_json.render_inspect_json(report))  # few tensors: the indented path
    monkeypatch.setattr(report_json, "PRETTY_LIMIT", 0)
    compact = report_json.render_inspect_json(report)
    assert compact == json.dumps(pretty, separators=(",", ":")) + "\n"
    assert len(pretty["tensors"]) == len(report.tensors) > 0


def _live_model_of(artifact, tweak: bool):
    """A TensorFlow-free live model named after the artifact's model entries: exact, or with a missing variable, a
    wrong shape, a wrong dtype and a NaN-free fresh value equal to the stored one (every status the rows carry)."""
    import numpy as np

    from ckptdiff.live.model import LiveModel, LiveVariable

    variables = []
    for i, e in enumerate(e for e in artifact.entries if e.group == "model" and e.dtype.startswith("float")):
        shape, dtype, name = e.shape, e.dtype, e.key
        if tweak and i == 0:
            name += "_renamed"
        elif tweak and i == 1:
            shape = (*shape, 2)
        elif tweak and i == 2:
            dtype = "float16"
        fresh = np.asarray(e.read()) if tweak and i == 3 else np.zeros(shape, np.float32)
        variables.append(LiveVariable(len(variables), f"m/{name}", name, shape, dtype, True, "m", fresh=fresh))
    return LiveModel(spec="test", kind="tf.Module", name="m", variables=tuple(variables))


@pytest.mark.parametrize("name", ["tf1/model.ckpt", "fresh/nan/ckpt"])
@pytest.mark.parametrize("tweak", [False, True])
def test_compact_check_variables_equal_json_dumps_of_the_document(monkeypatch, name, tweak):
    from ckptdiff.commands.check import check_restore
    from ckptdiff.formats import open_artifact
    from ckptdiff.match.interface import LOADER_BY_NAME

    with open_artifact(SAMPLES / name) as artifact:  # matched by name: the live model has no object graph
        report = check_restore(artifact, _live_model_of(artifact, tweak), loader=LOADER_BY_NAME)
    pretty = json.loads(report_json.render_check_json(report))
    monkeypatch.setattr(report_json, "PRETTY_LIMIT", 0)
    compact = report_json.render_check_json(report)
    assert compact == json.dumps(pretty, separators=(",", ":")) + "\n"
    assert len(pretty["variables"]) == len(report.variables) > 2
    if tweak:
        assert {v["status"] for v in pretty["variables"]} >= {"matched", "missing", "shape_mismatch"}
