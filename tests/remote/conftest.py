"""The S3 API and HTTP Range servers are session fixtures of tests/conftest.py (the audit tests use them too)."""

from __future__ import annotations

from tests.servers import BUCKET

__all__ = ["BUCKET"]
