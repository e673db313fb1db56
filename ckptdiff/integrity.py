"""What `--verify` finds: damaged tensors, members and references, as rows of the report (never raised)."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from ckptdiff.artifact import Artifact
from ckptdiff.errors import CkptdiffError, one_line


class ProblemKind(enum.StrEnum):
    """What kind of damage an IntegrityProblem is."""

    CRC = "crc-mismatch"
    OVERLAP = "overlap"
    TRUNCATED = "truncated"
    UNREADABLE = "unreadable"
    ZIP_MEMBER = "zip-member"
    STRUCTURE = "structure"
    DANGLING = "dangling-reference"


class VerifyMethod(enum.StrEnum):
    """How the bytes were checked."""

    CRC32C = "crc32c"
    HDF5_READ = "hdf5-read"
    ZIP = "zip-crc32+hdf5-read"
    TF_READ = "tensorflow-read"
    READ = "read"


@dataclass(frozen=True)
class IntegrityProblem:
    """One damaged tensor, member or reference."""

    key: str
    """The tensor key, zip member or structure it concerns."""
    kind: ProblemKind
    detail: str


@dataclass(frozen=True)
class IntegrityReport:
    """What `--verify` found in one artifact."""

    path: str
    method: str
    """How the bytes were checked: one of VerifyMethod."""
    checked: int
    """Tensors (and members) whose bytes were checked."""
    problems: tuple[IntegrityProblem, ...]
    notes: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """True when nothing is damaged."""
        return not self.problems


def read_every_entry(artifact: Artifact, errors: tuple[type[BaseException], ...]) -> tuple[int, list[IntegrityProblem]]:
    """Read every tensor in full; each one that fails to read is a problem.

    Returns:
        (entries checked, problems).
    """
    problems = []
    for entry in artifact.entries:
        try:
            for _ in entry.iter_chunks():
                pass
        except CkptdiffError as exc:
            problems.append(IntegrityProblem(entry.key, ProblemKind.UNREADABLE, str(exc)))
        except errors as exc:
            problems.append(
                IntegrityProblem(entry.key, ProblemKind.UNREADABLE, f"{type(exc).__name__}: {one_line(str(exc))}")
            )
    return len(artifact.entries), problems
