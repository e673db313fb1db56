"""Session-wide S3 API (moto server) and HTTP Range server on loopback, holding copies of the samples."""

from __future__ import annotations

import pytest

from tests.conftest import SAMPLES
from tests.servers import HttpRangeServer, S3Server

BUCKET = "ckptdiff-samples"


@pytest.fixture(scope="session")
def s3():
    pytest.importorskip("s3fs", reason="s3:// needs the remote extra (s3fs)")
    pytest.importorskip("moto.server", reason="the S3 API server is moto's server mode (dev extra)")
    server = S3Server().start()
    server.upload_tree(BUCKET, SAMPLES)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def http_server():
    pytest.importorskip("aiohttp", reason="https:// needs the remote extra (aiohttp)")
    server = HttpRangeServer(SAMPLES).start()
    yield server
    server.stop()
