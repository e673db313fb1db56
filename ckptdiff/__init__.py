"""ckptdiff: checkpoint forensics for TensorFlow and Keras.

The public API: `ckptdiff.inspect`, `check`, `diff`, `scan` and `history` return the commands' report
objects (`.ok`, `.findings`, `.to_json()`), and `ckptdiff.testing.assert_restores` guards a restore in
a test; the library behind the CLI (`open_artifact`, `check_restore`, ...) is exported too. Names are
imported on first use, so `import ckptdiff` costs nothing and leaves numpy's thread settings to the caller.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "inspect": ("ckptdiff.api", "inspect"),
    "check": ("ckptdiff.api", "check"),
    "diff": ("ckptdiff.api", "diff"),
    "scan": ("ckptdiff.api", "scan"),
    "history": ("ckptdiff.api", "history"),
    "Finding": ("ckptdiff.api", "Finding"),
    "open_artifact": ("ckptdiff.formats", "open_artifact"),
    "inspect_artifact": ("ckptdiff.commands.inspect", "inspect_artifact"),
    "check_restore": ("ckptdiff.commands.check", "check_restore"),
    "diff_artifacts": ("ckptdiff.commands.diff", "diff_artifacts"),
    "load_live_model": ("ckptdiff.live.spec", "load_live_model"),
    "scan_artifact": ("ckptdiff.scanning.scanner", "scan_artifact"),
    "verify_artifact": ("ckptdiff.formats", "verify_artifact"),
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        import importlib

        module, attribute = _EXPORTS[name]
        return getattr(importlib.import_module(module), attribute)
    raise AttributeError(f"module 'ckptdiff' has no attribute {name!r}")
