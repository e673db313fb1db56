"""What every artifact kind provides: detection, opening, integrity verification and scanning."""

from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ckptdiff.artifact import Artifact, Format
from ckptdiff.errors import UnreadableArtifact
from ckptdiff.integrity import IntegrityReport, read_every_entry
from ckptdiff.storage import Location

if TYPE_CHECKING:
    from ckptdiff.scanning.interface import ScanResult


@dataclass(frozen=True)
class Detection:
    """A kind's claim on a path: what it will open, and what it decided on the user's behalf."""

    kind: ArtifactKind
    location: Location
    """The file, prefix or folder to open (a state file's latest checkpoint, say)."""
    notes: tuple[str, ...] = ()


class ArtifactKind(abc.ABC):
    """One kind of artifact: everything ckptdiff knows about it lives in its module."""

    name: str
    """The registry name."""
    formats: tuple[Format, ...]
    """The `Artifact.format` values this kind produces."""
    scanner_name: str = ""
    """The name `scan` reports for this kind (the registry name unless set)."""

    @abc.abstractmethod
    def detect(self, location: Location) -> Detection | None:
        """Claim the path when it is this kind (names and first bytes only), else None.

        Raises:
            UnreadableArtifact: the path is this kind but unusable in a way worth saying now
                (a state file naming a missing checkpoint, a `.h5` name over other bytes).
        """

    def refuse(self, location: Location) -> UnreadableArtifact | None:
        """When no kind claims the path: the error to give if it looks like this kind by name alone."""
        return None

    @abc.abstractmethod
    def open(self, location: Location, display: str) -> Artifact:
        """Open the claimed location read-only; display is the path as the user gave it."""

    @abc.abstractmethod
    def loader(self, artifact: Artifact) -> str:
        """The name of the loader a user would really call for this artifact (see ckptdiff.match)."""

    def verify(self, artifact: Artifact) -> IntegrityReport:
        """Check every stored byte the format can vouch for; damage is a row, never an exception."""
        checked, problems = read_every_entry(artifact, (Exception,))
        return IntegrityReport(artifact.path, "read", checked, tuple(problems))

    def scan(self, location: Location, display: str) -> ScanResult:
        """What loading the artifact would execute, import, write or read (default: data only)."""
        from ckptdiff.scanning.interface import ScanResult

        with self.open(location, display) as artifact:
            return ScanResult(artifact.format, (), (f"{len(artifact.entries)} stored tensors: data only",))
