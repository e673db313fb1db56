"""A Keras 3 `.weights.h5` written by the real saver from a factories file made by a test, every variable set to
distinct seeded values first (so a value names the variable it came from)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from tests.conftest import load_module


def save_with_distinct_values(root: Path, factories: str, name: str) -> tuple[Any, Path, dict[str, list[np.ndarray]]]:
    """Write `factories` to root/factories.py, save its `saved()` model; returns (module, weights path, the saved
    values by layer name)."""
    (root / "factories.py").write_text(factories)
    module = load_module(root / "factories.py", name)
    model = module.saved()
    rng = np.random.default_rng(0)
    for v in model.weights:
        v.assign(rng.standard_normal(tuple(v.shape)).astype("float32"))
    path = root / "model.weights.h5"
    model.save_weights(str(path))
    return module, path, {layer.name: [np.array(w) for w in layer.get_weights()] for layer in model.layers}
