"""Write sample_checkpoints/frozen_swap/ckpt with the real TensorFlow saver.

Run from the repository root: `.venv/bin/python sample_checkpoints/make_frozen_samples.py`.
`frozen_models.build("a")` (layer `a` frozen), every variable then set to distinct seeded values (so a value
names the variable it came from), written with tf.train.Checkpoint(model=m, optimizer=m.optimizer).write.
Restoring it into `frozen_models.frozen_c_checkpoint()` (layer `c` frozen instead) reaches each variable by
two paths that disagree: the model's layers and the optimizer's `_trainable_variables` list.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
HERE = Path(__file__).resolve().parent
OUT = HERE / "frozen_swap"
sys.path.insert(0, str(HERE))


def main() -> None:
    import numpy as np
    import tensorflow as tf

    import frozen_models

    if OUT.exists():
        shutil.rmtree(OUT)
    OUT.mkdir()
    model = frozen_models.build("a")
    rng = np.random.default_rng(0)
    for v in model.weights:
        v.assign(rng.standard_normal(tuple(v.shape)).astype("float32"))
    tf.train.Checkpoint(model=model, optimizer=model.optimizer).write(str(OUT / "ckpt"))
    for path in sorted(OUT.rglob("*")):
        print(f"wrote {path.relative_to(HERE.parent)} ({path.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
