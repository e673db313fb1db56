"""A pytest-friendly guard for restores: `assert_restores(path, model)` fails with the findings table.

from ckptdiff.testing import assert_restores

def test_the_production_checkpoint_restores():
    assert_restores("gs://models/prod/ckpt-1000", build_model(), allow=("fresh",))
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from ckptdiff.report.interface import CheckReport


def assert_restores(
    path: str | os.PathLike[str],
    model: Any,
    *,
    allow: Sequence[str] = (),
    fail_on: Sequence[str] = (),
    loader: str = "auto",
    ignore: Sequence[str] = (),
) -> CheckReport:
    """Check the restore of path into model; raise AssertionError with the check table when it fails.

    Args:
        path: the artifact.
        model: a SPEC or a live Keras 3 / tf_keras model, tf.Module or tf.train.Checkpoint.
        allow: statuses not to fail on (`fresh` for an intentionally new head).
        fail_on: statuses to fail on besides the defaults.
        loader: the loader to emulate (`auto`: the one users call for the artifact).
        ignore: globs over variable paths and entry keys to leave out.

    Returns:
        The check report, when the restore is clean.
    """
    from ckptdiff.api import check
    from ckptdiff.report.table import render_check_table

    report = check(path, model, loader=loader, fail_on=fail_on, allow=allow, ignore=ignore)
    if not report.ok:
        raise AssertionError(f"restoring {os.fspath(path)} fails:\n{render_check_table(report, width=None)}")
    return report
