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
