"""Real servers on loopback for the remote tests: moto's S3 API (server mode) and an HTTP server with Range support.

Both are started once per session by fixtures in tests/remote/conftest.py and listen on 127.0.0.1 only.
"""

from __future__ import annotations

import http.server
import os
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

_RANGE = re.compile(r"bytes=(\d*)-(\d*)$")
BUCKET = "ckptdiff-samples"
"""The bucket the session's S3 server holds a copy of sample_checkpoints/ in."""


@dataclass
class RequestLog:
    """What the HTTP server served: requests per path, body bytes in all."""

    requests: dict[str, int] = field(default_factory=dict)
    bytes_by_path: dict[str, int] = field(default_factory=dict)
    body_bytes: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, path: str, nbytes: int) -> None:
        with self.lock:
            self.requests[path] = self.requests.get(path, 0) + 1
            self.bytes_by_path[path] = self.bytes_by_path.get(path, 0) + nbytes
            self.body_bytes += nbytes

    def reset(self) -> None:
        with self.lock:
            self.requests.clear()
            self.bytes_by_path.clear()
            self.body_bytes = 0


def range_handler(root: Path, log: RequestLog, flaky_failures: int = 2, slow_seconds: float = 3.0) -> type:
    """A read-only file server over root with RFC 7233 single ranges.

    Paths under /forbidden/ answer 403; under /flaky/ each file answers 503 to its first flaky_failures GETs;
    under /slow/ every answer waits slow_seconds first. Anything but GET and HEAD is 405.
    """
    failures: dict[str, int] = {}

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:  # quiet
            return None

        def _file(self) -> Path | None:
            rel = self.path.split("?", 1)[0].lstrip("/")
            for prefix in ("flaky/", "slow/"):
                rel = rel.removeprefix(prefix)
            target = (root / rel).resolve()
            if root.resolve() not in target.parents and target != root.resolve():
                return None
            return target if target.is_file() else None

        def _refuse(self, code: int) -> bool:
            if self.path.startswith("/forbidden/"):
                self._empty(403)
                return True
            if self.path.startswith("/slow/"):
                time.sleep(slow_seconds)
            if self.path.startswith("/flaky/") and code == 0:
                seen = failures.get(self.path, 0)
                if seen < flaky_failures:
                    failures[self.path] = seen + 1
                    self._empty(503)
                    return True
            return False

        def _empty(self, code: int) -> None:
            self.send_response(code)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def do_HEAD(self) -> None:
            if self._refuse(1):
                return
            target = self._file()
            if target is None:
                self._empty(404)
                return
            self.send_response(200)
            self.send_header("Content-Length", str(target.stat().st_size))
            self.send_header("Accept-Ranges", "bytes")
            self.end_headers()

        def do_GET(self) -> None:
            if self._refuse(0):
                return
            target = self._file()
            if target is None:
                self._empty(404)
                return
            size = target.stat().st_size
            start, stop = 0, size
            header = self.headers.get("Range")
            m = _RANGE.match(header or "")
            if m:
                first, last = m.group(1), m.group(2)
                if first == "":
                    start, stop = max(size - int(last), 0), size
                else:
                    start, stop = int(first), min(int(last) + 1 if last else size, size)
                if start >= size and size > 0:
                    self.send_response(416)
                    self.send_header("Content-Range", f"bytes */{size}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
            with open(target, "rb") as f:
                f.seek(start)
                body = f.read(stop - start)
            self.send_response(206 if m else 200)
            if m:
                self.send_header("Content-Range", f"bytes {start}-{stop - 1}/{size}")
            self.send_header("Accept-Ranges", "bytes")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            log.add(self.path, len(body))

        def _not_allowed(self) -> None:
            self._empty(405)

        do_PUT = do_POST = do_DELETE = do_PATCH = _not_allowed

    return Handler


class _QuietServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        return None  # a client that gave up (the timeout test) is not a server failure worth printing


class HttpRangeServer:
    """http.server in a thread on 127.0.0.1, an ephemeral port."""

    def __init__(self, root: Path) -> None:
        self.log = RequestLog()
        self.server = _QuietServer(("127.0.0.1", 0), range_handler(root, self.log))
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> HttpRangeServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class S3Server:
    """moto's S3 API in server mode on 127.0.0.1, with the AWS environment pointing at it."""

    def __init__(self) -> None:
        from moto.server import ThreadedMotoServer

        self.server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self.saved_env: dict[str, str | None] = {}

    def start(self) -> S3Server:
        self.server.start()
        host, port = self.server.get_host_and_port()
        self.endpoint = f"http://{host}:{port}"
        env = {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ENDPOINT_URL_S3": self.endpoint,
            "AWS_ENDPOINT_URL": self.endpoint,
        }
        for key, value in env.items():
            self.saved_env[key] = os.environ.get(key)
            os.environ[key] = value
        return self

    def client(self):
        import boto3

        return boto3.client("s3", endpoint_url=self.endpoint, region_name="us-east-1")

    def upload_tree(self, bucket: str, root: Path, prefix: str = "") -> None:
        client = self.client()
        existing = {b["Name"] for b in client.list_buckets().get("Buckets", [])}
        if bucket not in existing:
            client.create_bucket(Bucket=bucket)
        for path in sorted(root.rglob("*")):
            if path.is_file():
                key = f"{prefix}{path.relative_to(root).as_posix()}"
                client.upload_file(str(path), bucket, key)

    def stop(self) -> None:
        self.server.stop()
        for key, value in self.saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
