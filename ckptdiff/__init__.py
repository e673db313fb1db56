"""ckptdiff: checkpoint forensics for TensorFlow and Keras.

The public API is the library behind the CLI: open an artifact, check it against a live model,
diff two artifacts, scan one for code that would run on load.
"""

from __future__ import annotations

__version__ = "0.1.0"

from ckptdiff.readers import open_artifact

__all__ = ["__version__", "open_artifact"]
