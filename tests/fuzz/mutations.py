"""Deterministic mutations of the sample artifacts: each case is (artifact, kind, seed) and rebuilds the same bytes every run."""

from __future__ import annotations

import random
import shutil
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import SAMPLES


@dataclass(frozen=True)
class FuzzArtifact:
    """A sample artifact: what to copy, and the path form to hand the CLI (both relative)."""

    name: str
    source: str
    """Relative to sample_checkpoints/: a file or a folder."""
    target: str
    """Relative to the copy's parent: what the commands are run on."""


ARTIFACTS: tuple[FuzzArtifact, ...] = (
    FuzzArtifact("tf2", "tf2", "tf2"),
    FuzzArtifact("tf2_sharded", "tf2_sharded", "tf2_sharded/ckpt"),
    FuzzArtifact("tf1", "tf1", "tf1/model.ckpt"),
    FuzzArtifact("tf1_v1", "tf1_v1", "tf1_v1/model.ckpt"),
    FuzzArtifact("saved_model", "saved_model", "saved_model"),
    FuzzArtifact("keras2_model", "keras2/model.h5", "model.h5"),
    FuzzArtifact("keras2_weights_only", "keras2/weights_only.h5", "weights_only.h5"),
    FuzzArtifact("keras2_tf_weights", "keras2/tf_weights", "tf_weights/ckpt"),
    FuzzArtifact("keras3_archive", "keras3/model.keras", "model.keras"),
    FuzzArtifact("keras3_weights", "keras3/model.weights.h5", "model.weights.h5"),
    FuzzArtifact("keras3_legacy", "keras3/legacy.h5", "legacy.h5"),
    FuzzArtifact("hostile_saved_model", "hostile/write_file_saved_model", "write_file_saved_model"),
    FuzzArtifact("hostile_lambda_keras", "hostile/lambda.keras", "lambda.keras"),
    FuzzArtifact("hostile_lambda_h5", "hostile/lambda_legacy.h5", "lambda_legacy.h5"),
)

KINDS = ("bitflip", "truncate", "append", "garble", "zero", "swap", "rename", "dir-for-file", "delete")
"""bit flips; a cut at a random length; random bytes appended; a random block overwritten; a file
emptied; two files' contents (or two blocks of one file) swapped; a file renamed; a directory put
where a file was; a file deleted."""


@dataclass(frozen=True)
class Mutant:
    """One deterministic mutation of one artifact."""

    artifact: FuzzArtifact
    kind: str
    seed: int

    @property
    def id(self) -> str:
        return f"{self.artifact.name}-{self.kind}-{self.seed}"

    def build(self, dest: Path) -> tuple[Path, str]:
        """Copy the artifact under dest, mutate it, and return (the path to run on, what was done)."""
        src = SAMPLES / self.artifact.source
        copy = dest / src.name
        if src.is_dir():
            shutil.copytree(src, copy)
        else:
            shutil.copy2(src, copy)
        rng = random.Random(self.id)
        files = sorted(p for p in ([copy] if copy.is_file() else copy.rglob("*")) if p.is_file())
        target = dest / self.artifact.target
        victim = rng.choice(files)
        done = getattr(self, "_" + self.kind.replace("-", "_"))(rng, victim, files, target)
        if isinstance(done, tuple):  # a renamed single-file artifact is run under its new name
            done, target = done
        return target, f"{self.id}: {done}"

    # Each mutation returns a description; `target` may change when the mutation renames it.

    def _bitflip(self, rng, victim, files, target):
        data = bytearray(victim.read_bytes())
        if not data:
            return f"{victim.name} is empty, nothing flipped"
        flips = [rng.randrange(len(data) * 8) for _ in range(rng.randint(1, 8))]
        for bit in flips:
            data[bit // 8] ^= 1 << (bit % 8)
        victim.write_bytes(bytes(data))
        return f"flipped bits {flips} of {victim.name}"

    def _truncate(self, rng, victim, files, target):
        data = victim.read_bytes()
        cut = rng.randrange(len(data)) if data else 0
        victim.write_bytes(data[:cut])
        return f"cut {victim.name} to {cut} of {len(data)} bytes"

    def _append(self, rng, victim, files, target):
        extra = rng.randbytes(rng.randint(1, 4096))
        with open(victim, "ab") as f:
            f.write(extra)
        return f"appended {len(extra)} random bytes to {victim.name}"

    def _garble(self, rng, victim, files, target):
        data = bytearray(victim.read_bytes())
        if not data:
            return f"{victim.name} is empty, nothing garbled"
        start = rng.randrange(len(data))
        length = min(len(data) - start, rng.randint(1, 512))
        data[start : start + length] = rng.randbytes(length)
        victim.write_bytes(bytes(data))
        return f"overwrote bytes {start}..{start + length} of {victim.name}"

    def _zero(self, rng, victim, files, target):
        victim.write_bytes(b"")
        return f"emptied {victim.name}"

    def _swap(self, rng, victim, files, target):
        if len(files) >= 2:
            a, b = rng.sample(files, 2)
            da, db = a.read_bytes(), b.read_bytes()
            a.write_bytes(db)
            b.write_bytes(da)
            return f"swapped the contents of {a.name} and {b.name}"
        data = bytearray(victim.read_bytes())
        half = len(data) // 2
        size = rng.randint(1, max(1, half // 2))
        i, j = rng.randrange(0, max(1, half - size)), rng.randrange(half, max(half + 1, len(data) - size))
        data[i : i + size], data[j : j + size] = data[j : j + size], data[i : i + size]
        victim.write_bytes(bytes(data))
        return f"swapped {size}-byte blocks at {i} and {j} of {victim.name}"

    def _rename(self, rng, victim, files, target):
        names = [
            victim.name + ".bak",
            victim.name.replace("00000", "00001"),
            victim.name.replace(".index", ".data-00000-of-00001")
            if victim.name.endswith(".index")
            else victim.name + ".index",
            "model.keras" if victim.suffix != ".keras" else "model.h5",
        ]
        new = victim.with_name(rng.choice([n for n in names if n != victim.name] or [victim.name + ".bak"]))
        if new.exists():
            new = victim.with_name(victim.name + ".moved")
        victim.rename(new)
        if victim == target:  # a single-file artifact: its content and its new name disagree
            return f"renamed {victim.name} to {new.name}", new
        return f"renamed {victim.name} to {new.name}"

    def _dir_for_file(self, rng, victim, files, target):
        victim.unlink()
        victim.mkdir()
        return f"replaced {victim.name} by an empty directory"

    def _delete(self, rng, victim, files, target):
        victim.unlink()
        return f"deleted {victim.name}"


def all_mutants(per_kind: int) -> list[Mutant]:
    """per_kind seeds of every kind for every artifact whose sample exists."""
    return [
        Mutant(artifact, kind, seed)
        for artifact in ARTIFACTS
        if (SAMPLES / artifact.source).exists()
        for kind in KINDS
        for seed in range(per_kind)
    ]
