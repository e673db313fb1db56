"""A fleet of 120 artifacts for the audit tests: copies of what the real savers wrote (sample_checkpoints/),
a seventh of them damaged (a data shard cut short, a flipped index byte, a truncated H5), and the hostile
and attack samples, laid out in nested folders as a model registry would hold them.

EXPECTED maps each fleet path to (source sample, damage or None), for the oracles in test_audit.py.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.conftest import SAMPLES

SOURCES = [
    "tf2/ckpt-1",
    "tf2/ckpt-2",
    "tf1/model.ckpt",
    "keras2/model.h5",
    "keras3/model.weights.h5",
    "keras3/model.keras",
    "keras3/legacy.h5",
    "saved_model",
    "formats/sharded/model.weights.json",
    "formats/model_dir",
    "formats/hub_preset/bert_tiny",
    "history/stop_gradient/model.keras",
    "history/epochs/weights.04.weights.h5",
    "hostile/lambda.keras",
    "hostile/zip_tricks.keras",
    "hostile/write_file_saved_model",
    "attacks/cve_2024_3660_lambda.h5",
    "attacks/cve_2025_1550_module_function.keras",
    "attacks/hdf5_external_link.h5",
    "attacks/amplify_json_array_10m.keras",
]
FLEET_SIZE = 120


def _copy(source: str, target: Path) -> str:
    """Copy one artifact (a file, a folder, or a checkpoint prefix with its files); return its fleet path."""
    src = SAMPLES / source
    target.mkdir(parents=True, exist_ok=True)
    if src.is_dir():
        shutil.copytree(src, target / src.name)
        return str(target / src.name)
    if src.is_file():
        shutil.copy(src, target / src.name)
        if src.name.endswith(".weights.json"):
            for shard in src.parent.glob(src.name.removesuffix(".weights.json") + "_*.weights.h5"):
                shutil.copy(shard, target / shard.name)
        return str(target / src.name)
    for part in src.parent.glob(src.name + ".*"):  # a checkpoint prefix
        shutil.copy(part, target / part.name)
    return str(target / src.name)


def _damage(path: str) -> str:
    p = Path(path)
    if (data := Path(path + ".data-00000-of-00001")).is_file():
        data.write_bytes(data.read_bytes()[: max(1, data.stat().st_size // 2)])
        return "data shard cut in half"
    if (index := Path(path + ".index")).is_file():
        raw = bytearray(index.read_bytes())
        raw[len(raw) // 3] ^= 0xFF
        index.write_bytes(bytes(raw))
        return "index byte flipped"
    if p.is_file() and p.suffix in (".h5", ".keras"):
        p.write_bytes(p.read_bytes()[: p.stat().st_size // 3])
        return "file cut to a third"
    return ""


@pytest.fixture(scope="session")
def fleet(tmp_path_factory) -> tuple[Path, dict[str, tuple[str, str | None]]]:
    root = tmp_path_factory.mktemp("fleet")
    expected: dict[str, tuple[str, str | None]] = {}
    for i in range(FLEET_SIZE):
        source = SOURCES[i % len(SOURCES)]
        folder = root / f"team{i % 4}" / f"model{i:03d}"
        path = _copy(source, folder)
        damage = None
        if i % 7 == 3:
            damage = _damage(path) or None
        expected[path] = (source, damage)
    return root, expected


@pytest.fixture(scope="module")
def run_cli_module():
    """run_cli for module-scoped fixtures (capsys is function-scoped): the real entry point, output captured."""
    import contextlib
    import io

    from ckptdiff.cli import main
    from tests.conftest import CliResult

    def run(*args: str) -> CliResult:
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                main(list(args))
                code = 0
            except SystemExit as exc:
                code = int(exc.code or 0)
        return CliResult(code, out.getvalue(), err.getvalue())

    return run


@pytest.fixture(scope="session")
def dask_scheduler():
    """A Dask scheduler with two worker processes on loopback, for the whole session."""
    distributed = pytest.importorskip("distributed", reason="--scheduler needs the cluster extra (distributed)")
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
    )
    yield cluster.scheduler_address
    cluster.close()
