"""The one exception hierarchy of ckptdiff, and the exit codes the CLI maps it to."""

from __future__ import annotations

import enum


class ExitCode(enum.IntEnum):
    """Exit statuses shared by every command (modelscan/h5diff convention)."""

    OK = 0
    """Nothing to report: clean, matched, identical."""
    FINDINGS = 1
    """The command ran and found something that reaches the failure threshold."""
    ERROR = 2
    """Unusable input: unreadable artifact, bad model spec, bad option."""


class CkptdiffError(Exception):
    """Base of every error ckptdiff raises on purpose; the CLI turns it into exit 2."""

    exit_code: ExitCode = ExitCode.ERROR


class UnreadableArtifact(CkptdiffError):
    """The artifact cannot be read: it is missing, of an unknown kind or damaged."""


class ArtifactNotFound(UnreadableArtifact):
    """The path does not exist or names nothing ckptdiff can open."""


class UnknownArtifactKind(UnreadableArtifact):
    """The path exists but is not any artifact kind ckptdiff knows."""


class MissingShard(UnreadableArtifact):
    """A V2 bundle's index names a data shard that is not on disk."""


class TruncatedShard(UnreadableArtifact):
    """A data shard is shorter than the index says it must be."""


class NotATable(UnreadableArtifact):
    """A checkpoint index is not a LevelDB-style table."""


class CorruptArtifact(UnreadableArtifact):
    """The artifact's structure is inconsistent (bad protobuf, bad offsets, bad zip)."""


class NotHdf5(UnreadableArtifact):
    """A file named like an H5 file is not HDF5."""


class NotKerasArchive(UnreadableArtifact):
    """A zip file is not a Keras `.keras` archive."""


class MissingDependency(CkptdiffError):
    """An optional dependency needed for this artifact or model is not installed."""


class BadModelSpec(CkptdiffError):
    """The `--model` SPEC cannot be resolved into a live model."""


class BadOption(CkptdiffError):
    """An option value the command cannot use."""


class UnsafeArtifact(CkptdiffError):
    """Rebuilding or reading the artifact would require executing code from it."""


def one_line(message: str | BaseException) -> str:
    """A message (or an exception's, else its type name) on one line, as every error and row detail is shown."""
    text = " ".join(str(message).split())
    if not text and isinstance(message, BaseException):
        return type(message).__name__
    return text
