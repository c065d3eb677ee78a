"""Small client and assertion helpers for the Knify black-box suite. Only public HTTP is used."""

from __future__ import annotations

import gzip
import io
import json
import re
import select
import socket
import tarfile
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone

import httpx
import requests
from httpx_sse import connect_sse

TERMINAL = ("completed", "failed", "cancelled")
STATUSES = ("pending", "running", "completed", "failed", "cancelled")
SANDBOX_STATES = ("active", "paused", "cleaned", "lost")
EVENT_TYPES = ("agent_message", "thinking", "tool_use", "tool_result", "result", "error", "system")
JOB_ID = re.compile(r"^job_[0-9A-Za-z]{16}$")
ISO_Z = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")
KEY_RE = re.compile(r"^knify_(live|test)_[0-9A-Za-z]{32}$")
JOB_FIELDS = {"id", "spec", "status", "created_at", "started_at", "completed_at", "sandbox_id", "sandbox_state",
              "cursor_session_id", "parent_job_id", "error", "error_code"}
ERROR_STATUS = {"BAD_REQUEST": 400, "UNAUTHORIZED": 401, "FORBIDDEN": 403, "NOT_FOUND": 404, "CONFLICT": 409,
                "PAYLOAD_TOO_LARGE": 413, "RATE_LIMITED": 429, "INTERNAL_ERROR": 500, "SANDBOX_ERROR": 500,
                "SANDBOX_UNAVAILABLE": 503, "STORAGE_FULL": 507}
RATE_HEADERS = ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset")
DEFAULT_TIMEOUT = 30

# Every job any test creates, so the session can clean up its sandboxes at the end.
CREATED_JOBS: list[str] = []
_created_lock = threading.Lock()


def parse_ts(text: str) -> datetime:
    assert isinstance(text, str) and ISO_Z.match(text), f"not an ISO-8601 UTC timestamp ending in Z: {text!r}"
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def describe(resp: requests.Response) -> str:
    body = resp.text
    if len(body) > 800:
        body = body[:800] + "…"
    return f"{resp.request.method} {resp.request.url} → {resp.status_code} {body}"


class Client:
    """requests with a base URL and an optional bearer key."""

    def __init__(self, base_url: str, key: str | None = None, name: str = "client"):
        self.base_url = base_url.rstrip("/")
        self.key = key
        self.name = name
        self.session = requests.Session()

    def headers(self, extra: dict | None = None) -> dict:
        headers = {}
        if self.key is not None:
            headers["Authorization"] = f"Bearer {self.key}"
        headers.update(extra or {})
        return headers

    def request(self, method: str, path: str, **kwargs) -> requests.Response:
        kwargs["headers"] = self.headers(kwargs.get("headers"))
        kwargs.setdefault("timeout", DEFAULT_TIMEOUT)
        return self.session.request(method, self.base_url + path, **kwargs)

    def get(self, path: str, **kwargs) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs) -> requests.Response:
        return self.request("POST", path, **kwargs)

    # -- jobs ------------------------------------------------------------------------------------------------
    def create_job(self, spec: dict, expect: int = 200) -> str:
        resp = self.post("/jobs", json={"spec": spec})
        assert resp.status_code == expect, describe(resp)
        body = resp.json()
        job_id = body["job_id"]
        with _created_lock:
            CREATED_JOBS.append(job_id)
        return job_id

    def job(self, job_id: str) -> dict:
        resp = self.get(f"/jobs/{job_id}")
        assert resp.status_code == 200, describe(resp)
        return resp.json()

    def wait_job(self, job_id: str, timeout: float = 60, until=TERMINAL) -> dict:
        """Polls GET /jobs/{id} until its status is in `until` (deadline, not a fixed sleep)."""
        deadline = time.monotonic() + timeout
        job = None
        while time.monotonic() < deadline:
            job = self.job(job_id)
            if job["status"] in until:
                return job
            time.sleep(0.1)
        raise AssertionError(f"job {job_id} not in {until} after {timeout} s; last: {json.dumps(job)[:1500]}")

    def wait_stage(self, job_id: str, stage: str, timeout: float = 60) -> dict:
        deadline = time.monotonic() + timeout
        job = None
        while time.monotonic() < deadline:
            job = self.job(job_id)
            if any(event["stage"] == stage for event in job.get("events", [])):
                return job
            if job["status"] in TERMINAL:
                raise AssertionError(f"job {job_id} ended ({job['status']}) without stage {stage}: {job}")
            time.sleep(0.1)
        raise AssertionError(f"job {job_id} has no stage {stage} after {timeout} s; last: {json.dumps(job)[:1500]}")

    def run_job(self, spec: dict, timeout: float = 60) -> dict:
        return self.wait_job(self.create_job(spec), timeout=timeout)

    def cancel(self, job_id: str, timeout: float = 15) -> requests.Response:
        """POST /jobs/{id}/cancel; a cancel that does not answer within `timeout` seconds is a failure of its own."""
        try:
            return self.post(f"/jobs/{job_id}/cancel", timeout=timeout)
        except requests.Timeout:
            raise AssertionError(f"POST /jobs/{job_id}/cancel did not answer within {timeout} s") from None

    def cursor_events(self, job_id: str) -> list:
        resp = self.get(f"/jobs/{job_id}/cursor")
        assert resp.status_code == 200, describe(resp)
        return resp.json()["events"]


def wait_for(predicate, timeout: float = 30, interval: float = 0.1, message: str = "condition"):
    deadline = time.monotonic() + timeout
    value = None
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"{message} not met within {timeout} s (last value {value!r})")


def assert_error(resp: requests.Response, status: int, code: str | None = None) -> dict:
    """The reply is `status` with exactly {"error", "detail", "code"} (strings) and the code for that status."""
    assert resp.status_code == status, describe(resp)
    assert resp.headers.get("Content-Type", "").startswith("application/json"), \
        f"error reply Content-Type {resp.headers.get('Content-Type')!r}: {describe(resp)}"
    body = resp.json()
    assert isinstance(body, dict) and set(body) == {"error", "detail", "code"}, \
        f"error envelope must be exactly error/detail/code: {describe(resp)}"
    assert all(isinstance(body[k], str) for k in body), f"error envelope fields must be strings: {body}"
    assert body["error"], f"empty error message: {body}"
    if code is not None:
        assert body["code"] == code, f"expected code {code}: {describe(resp)}"
        assert ERROR_STATUS[code] == status
    else:
        assert ERROR_STATUS.get(body["code"]) == status, f"code {body['code']} does not belong to {status}: {body}"
    assert resp.headers.get("X-Request-Id"), f"no X-Request-Id on {describe(resp)}"
    return body


def assert_job_object(job: dict) -> None:
    """The Job object's documented fields and their types."""
    missing = JOB_FIELDS - set(job)
    assert not missing, f"job object lacks {sorted(missing)}: {job}"
    assert JOB_ID.match(job["id"]), job["id"]
    assert isinstance(job["spec"], dict) and job["spec"].get("job_type"), job["spec"]
    assert job["status"] in STATUSES, job["status"]
    parse_ts(job["created_at"])
    for key in ("started_at", "completed_at"):
        assert job[key] is None or parse_ts(job[key]), (key, job[key])
    if job["status"] in TERMINAL:
        assert job["completed_at"] is not None, f"finished job without completed_at: {job}"
    else:
        assert job["completed_at"] is None, f"unfinished job with completed_at: {job}"
    if job["started_at"]:
        assert parse_ts(job["started_at"]) >= parse_ts(job["created_at"])
    if job["completed_at"] and job["started_at"]:
        assert parse_ts(job["completed_at"]) >= parse_ts(job["started_at"])
    assert job["sandbox_state"] in SANDBOX_STATES + (None,), job["sandbox_state"]
    for key in ("sandbox_id", "cursor_session_id", "parent_job_id", "error", "error_code"):
        assert job[key] is None or isinstance(job[key], str), (key, job[key])
    if job["parent_job_id"] is not None:
        assert JOB_ID.match(job["parent_job_id"]), job["parent_job_id"]
    if job["status"] == "failed":
        assert job["error"] and job["error_code"], f"failed job without error/error_code: {job}"
    if job["status"] == "completed":
        assert job["error"] is None and job["error_code"] is None, f"completed job with an error: {job}"


def assert_stage_events(events: list) -> None:
    assert isinstance(events, list)
    previous = None
    for event in events:
        assert set(event) == {"ts", "stage", "level", "detail"}, f"stage event fields: {event}"
        assert isinstance(event["stage"], str) and event["stage"]
        assert event["level"] in ("info", "warning", "error"), event
        assert isinstance(event["detail"], str), event
        ts = parse_ts(event["ts"])
        if previous is not None:
            assert ts >= previous, f"stage events out of time order: {events}"
        previous = ts


def assert_in_order(stages: list, expected: list) -> None:
    """`expected` appears in `stages` as a subsequence (other stages may sit in between)."""
    position = 0
    for stage in stages:
        if position < len(expected) and stage == expected[position]:
            position += 1
    assert position == len(expected), f"stages {stages} do not contain {expected} in this order"


def assert_rate_headers(resp: requests.Response, limit: int | None = None) -> tuple[int, int, int]:
    for header in RATE_HEADERS:
        assert header in resp.headers, f"{header} missing on {describe(resp)}"
    values = tuple(int(resp.headers[h]) for h in RATE_HEADERS)
    if limit is not None:
        assert values[0] == limit, f"X-RateLimit-Limit {values[0]} != {limit}"
    assert 0 <= values[1] <= values[0], values
    now = time.time()
    assert now - 2 <= values[2] <= now + 3600 + 2, f"X-RateLimit-Reset {values[2]} is not a Unix time within the hour"
    return values


# -- SSE ------------------------------------------------------------------------------------------------------
@dataclass
class SSEMessage:
    id: str | None
    data: dict
    event: str


def sse_read(base_url: str, path: str, headers: dict | None = None, params: dict | None = None,
             deadline_s: float = 60, stop_after: int | None = None, on_open=None, method: str = "GET",
             json_body=None) -> tuple[httpx.Response, list[SSEMessage]]:
    """Reads an SSE stream with httpx-sse until the server closes it (or `stop_after` messages). `on_open` is
    called once the response headers are in (the follower is attached). `method` and `json_body` are for streams
    that answer a POST (a knap run)."""
    messages: list[SSEMessage] = []
    deadline = time.monotonic() + deadline_s
    with httpx.Client(base_url=base_url, timeout=httpx.Timeout(20.0, connect=5.0)) as client:
        with connect_sse(client, method, path, headers=headers or {}, params=params, json=json_body) as source:
            response = source.response
            if on_open is not None:
                on_open()
            for sse in source.iter_sse():
                # httpx-sse dispatches an empty event for the blank line after a `: keep-alive` comment once an id
                # was seen; an EventSource does not (empty data buffer → no event), so neither do we.
                if sse.data == "":
                    continue
                messages.append(SSEMessage(id=sse.id or None, data=json.loads(sse.data), event=sse.event))
                if stop_after is not None and len(messages) >= stop_after:
                    break
                assert time.monotonic() < deadline, f"SSE {path} still open after {deadline_s} s"
    return response, messages


@dataclass
class RawSSE:
    status: int
    headers: dict
    blocks: list = field(default_factory=list)   # each: list of (field, value) in order
    comments: list = field(default_factory=list)
    closed_by_server: bool = False


def sse_raw(base_url: str, path: str, headers: dict | None = None, params: dict | None = None,
            deadline_s: float = 60) -> RawSSE:
    """Reads the stream line by line, keeping the framing (ids, event fields, comments) as sent."""
    deadline = time.monotonic() + deadline_s
    with httpx.Client(base_url=base_url, timeout=httpx.Timeout(20.0, connect=5.0)) as client:
        with client.stream("GET", path, headers=headers or {}, params=params) as resp:
            raw = RawSSE(status=resp.status_code, headers=dict(resp.headers))
            if resp.status_code != 200:
                resp.read()
                return raw
            block = []
            for line in resp.iter_lines():
                assert time.monotonic() < deadline, f"SSE {path} still open after {deadline_s} s"
                if line == "":
                    if block:
                        raw.blocks.append(block)
                    block = []
                elif line.startswith(":"):
                    raw.comments.append(line)
                else:
                    name, _, value = line.partition(":")
                    block.append((name, value[1:] if value.startswith(" ") else value))
            if block:
                raw.blocks.append(block)
            raw.closed_by_server = True
    return raw


# -- archives ------------------------------------------------------------------------------------------------
def tar_gz(entries: list[tuple[tarfile.TarInfo, bytes | None]], compress: bool = True) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for info, data in entries:
            if data is not None:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
            else:
                tar.addfile(info)
    raw = buffer.getvalue()
    return gzip.compress(raw) if compress else raw


def file_entry(name: str, data: bytes, mode: int = 0o644) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.mode = mode
    info.mtime = int(time.time())
    return info, data


def dir_entry(name: str) -> tuple[tarfile.TarInfo, None]:
    info = tarfile.TarInfo(name)
    info.type = tarfile.DIRTYPE
    info.mode = 0o755
    info.mtime = int(time.time())
    return info, None


def special_entry(name: str, kind: bytes, linkname: str = "", major: int = 0, minor: int = 0):
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = linkname
    info.devmajor = major
    info.devminor = minor
    info.mode = 0o644
    info.mtime = int(time.time())
    return info, None


def upload_workspace(client: Client, name: str | None, archive: bytes | None,
                     filename: str = "workspace.tar.gz") -> requests.Response:
    files = {}
    if archive is not None:
        files["workspace"] = (filename, archive, "application/gzip")
    data = {} if name is None else {"name": name}
    return client.post("/workspaces", data=data, files=files or None)


# -- raw HTTP (bodies the server may refuse before reading them) -----------------------------------------------
@dataclass
class RawResponse:
    status: int
    headers: dict
    body: bytes

    def json(self):
        return json.loads(self.body)


def raw_http(port: int, method: str, path: str, headers: dict, chunks, timeout: float = 60) -> RawResponse:
    """Sends a request whose body comes from `chunks`, stopping early when the server answers first."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n"
        head += "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
        sock.sendall(head.encode())
        try:
            for chunk in chunks:
                readable, _, _ = select.select([sock], [], [], 0)
                if readable:
                    break
                sock.sendall(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass
        data = b""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                part = sock.recv(65536)
            except ConnectionResetError:
                break
            if not part:
                break
            data += part
            parsed = _parse_response(data)
            if parsed is not None:
                return parsed
        parsed = _parse_response(data, final=True)
        assert parsed is not None, f"no complete HTTP response to {method} {path}; got {data[:300]!r}"
        return parsed
    finally:
        sock.close()


def _parse_response(data: bytes, final: bool = False) -> RawResponse | None:
    head, sep, rest = data.partition(b"\r\n\r\n")
    if not sep:
        return None
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if "content-length" in headers:
        length = int(headers["content-length"])
        if len(rest) >= length:
            return RawResponse(status, headers, rest[:length])
        return None
    if headers.get("transfer-encoding", "").lower() == "chunked":
        body, position = b"", 0
        while True:
            end = rest.find(b"\r\n", position)
            if end < 0:
                return None
            size = int(rest[position:end].split(b";")[0], 16)
            if size == 0:
                return RawResponse(status, headers, body)
            if len(rest) < end + 2 + size + 2:
                return None
            body += rest[end + 2:end + 2 + size]
            position = end + 2 + size + 2
    return RawResponse(status, headers, rest) if final else None


def now_utc() -> datetime:
    return datetime.now(timezone.utc)
