"""`.keras` archives written by Keras 2.12-2.15 (tf.keras), against what the saver recorded (EXPECTED.json:
every dataset's key, owning layer, variable name and value hash, taken from the live model at save time).

Keras 2.12-2.13 numbered each weighted layer twice (`conv2d`, `conv2d_2`, `conv2d_4`, ...), 2.14 once,
2.15 renamed the list `layers`; the owning layer of every entry must come out right for all four."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest

from ckptdiff.formats import open_artifact
from tests.conftest import SAMPLES

FORMATS = SAMPLES / "formats"
EXPECTED = json.loads((FORMATS / "EXPECTED.json").read_text())["artifacts"]
ARCHIVES = ["keras212/model.keras", "keras213/model.keras", "keras214/model.keras", "keras215/model.keras"]


@pytest.mark.parametrize("name", ARCHIVES)
def test_every_model_entry_is_attributed_to_the_layer_that_owned_it(name):
    record = EXPECTED[name]
    with open_artifact(FORMATS / name) as artifact:
        assert artifact.metadata["keras_version"] == record["keras_version"]
        got = {e.key: e for e in artifact.entries}
        assert set(got) == {e["key"] for e in record["entries"]}
        model_entries = [e for e in record["entries"] if e["owner"] in record["layer_names"]]
        assert len(model_entries) == 10, "3 Conv2D and 2 Dense layers, a kernel and a bias each"
        for want in model_entries:
            entry = got[want["key"]]
            assert entry.model_path.split("/")[0] == want["owner"], (want["key"], entry.paths)
            assert hashlib.sha256(np.ascontiguousarray(entry.read()).tobytes()).hexdigest() == want["sha256"]


@pytest.mark.parametrize("name", ["keras212/model.keras", "keras213/model.keras"])
def test_doubled_numbering_shows_in_the_table_by_layer_name(run_cli, name):
    result = run_cli("inspect", str(FORMATS / name), "--no-stats", "--format", "json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    by_key = {t["key"]: t for t in doc["tensors"]}
    conv = by_key["_layer_checkpoint_dependencies/conv2d_4/vars/0"]
    assert conv["paths"][0].startswith("conv2d_2/"), conv
