"""check_zip_members: what in a `.keras` zip's central directory Keras would not write, judged before reading any member."""

from __future__ import annotations

import posixpath
import zipfile
from collections import Counter

from ckptdiff.scan.interface import SEVERITY_HIGH, SEVERITY_INFO, SEVERITY_MEDIUM, Finding

KERAS_MEMBERS = frozenset({"config.json", "metadata.json", "model.weights.h5", "model.weights.npz"})
"""What keras/src/saving/saving_lib.py writes into an archive (`_CONFIG_FILENAME`, `_METADATA_FILENAME`,
`_VARS_FNAME_H5` or `_VARS_FNAME_NPZ`), besides the optional `assets/` tree (`_ASSETS_DIRNAME`)."""
ASSETS_DIR = "assets/"
DEFLATE_MAX_RATIO = 1032
"""DEFLATE cannot expand more than about 1032:1; a deflated member declaring more is lying."""
RATIO_SLACK_BYTES = 1 << 16
"""Tiny members compress badly or not at all; allow this much above the ratio bound."""
MAX_MEMBER_BYTES = 1 << 40
"""No member of a model archive is a terabyte: beyond this a declared size is absurd whatever the method."""
KERAS_BOMB_FLOOR = 1 << 32
KERAS_BOMB_RATIO = 100
"""Keras 3's own rule (saving_lib._reject_zip_bomb): above 4 GiB and 100x its stored size is a bomb."""


def check_zip_members(infos: list[zipfile.ZipInfo]) -> list[Finding]:
    """Judge every member of a `.keras` archive from its central-directory record alone.

    Args:
        infos: `ZipFile.infolist()`, in directory order.

    Returns:
        Findings for path traversal (absolute or `..` names), declared sizes no compression can
        produce, duplicate names, members Keras never writes (high, high, medium, medium; a member
        with a high finding is not also called extra), and one info finding per asset.
    """
    findings: list[Finding] = []
    for name, count in Counter(i.filename for i in infos).items():
        if count > 1:
            findings.append(
                Finding(SEVERITY_MEDIUM, "duplicate-member", name,
                        f"{count} members share this name; zip readers disagree on which one they read")
            )
    for info in infos:
        name = info.filename
        if _escapes(name):
            findings.append(
                Finding(SEVERITY_HIGH, "path-traversal", name,
                        "absolute or '..' member path: extracting the archive writes outside its folder")
            )
        absurd = absurd_member_size(info)
        if absurd:
            findings.append(Finding(SEVERITY_HIGH, "zip-bomb", name, absurd))
        if _escapes(name) or absurd:
            continue  # already a high finding; calling it an extra member too adds nothing
        if name in KERAS_MEMBERS or name.endswith("/") and ASSETS_DIR.startswith(name):
            continue
        if name.startswith(ASSETS_DIR):
            if not name.endswith("/"):
                findings.append(
                    Finding(SEVERITY_INFO, "asset", name, f"asset, {info.file_size} bytes: restored into a layer as data")
                )
            continue
        findings.append(
            Finding(SEVERITY_MEDIUM, "extra-member", name,
                    f"{info.file_size} bytes; Keras writes only config.json, metadata.json, model.weights.h5 "
                    "and assets/, so something else put this here")
        )
    return findings


def _escapes(name: str) -> bool:
    if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        return True
    parts = name.replace("\\", "/").split("/")
    return ".." in parts or posixpath.normpath(name).startswith("..")


def absurd_member_size(info: zipfile.ZipInfo) -> str | None:
    """Why the declared uncompressed size cannot be genuine, or None."""
    declared, stored = info.file_size, info.compress_size
    if declared > MAX_MEMBER_BYTES:
        return f"declares {declared} bytes uncompressed, over the {MAX_MEMBER_BYTES >> 40} TiB bound, from {stored} stored"
    if info.compress_type == zipfile.ZIP_STORED and declared != stored:
        return f"stored (uncompressed) member declares {declared} bytes but occupies {stored}"
    if info.compress_type == zipfile.ZIP_DEFLATED and declared > DEFLATE_MAX_RATIO * stored + RATIO_SLACK_BYTES:
        return f"declares {declared} bytes from {stored} deflated bytes, more than DEFLATE's {DEFLATE_MAX_RATIO}:1 can expand"
    if declared > KERAS_BOMB_FLOOR and declared > KERAS_BOMB_RATIO * stored:
        return f"declares {declared} bytes from {stored} stored: Keras itself refuses this as a decompression bomb"
    return None
