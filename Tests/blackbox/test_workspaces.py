"""POST /workspaces (multipart tar.gz) and GET /workspaces; malicious archives; a job sees its own copy."""

import gzip
import io
import os
import secrets
import tarfile
import zlib
from pathlib import Path

import pytest

from knify_api import (assert_error, describe, dir_entry, file_entry, parse_ts, raw_http, special_entry, tar_gz,
                       upload_workspace)

WORKSPACE_FIELDS = {"workspace_id", "name", "path", "created_at"}
from knify_server import UPLOAD_CAP_MB

# The servers run with --max-upload-mb UPLOAD_CAP_MB (compressed upload size).
UPLOAD_OVER_CAP = (UPLOAD_CAP_MB + 1) << 20
# Extracted size of the decompression bomb: over the 512 MiB a sandbox copy of a workspace may have.
BOMB_SIZE = 600 << 20


def unique(prefix="ws"):
    return f"{prefix}-{secrets.token_hex(4)}"


@pytest.fixture(scope="module")
def seeded(rw):
    name = unique("seeded")
    seed = f"seed-{secrets.token_hex(8)}\n".encode()
    archive = tar_gz([file_entry("seed.txt", seed), dir_entry("dir"), file_entry("dir/nested.txt", b"nested\n"),
                      file_entry("run.sh", b"#!/bin/sh\necho ran\n", mode=0o755)])
    resp = upload_workspace(rw, name, archive)
    assert resp.status_code == 200, describe(resp)
    return {"name": name, "seed": seed, "reply": resp.json()}


def test_upload_reply(seeded):
    body = seeded["reply"]
    assert set(body) == WORKSPACE_FIELDS, body
    assert body["name"] == seeded["name"]
    assert body["path"] == f"/workspaces/{seeded['name']}"
    assert isinstance(body["workspace_id"], str) and body["workspace_id"]
    parse_ts(body["created_at"])


def test_list_workspaces(rw, seeded):
    resp = rw.get("/workspaces")
    assert resp.status_code == 200, describe(resp)
    body = resp.json()
    assert set(body) == {"data"}, body
    for item in body["data"]:
        assert set(item) == WORKSPACE_FIELDS, item
    match = [w for w in body["data"] if w["name"] == seeded["name"]]
    assert match == [seeded["reply"]], match


def test_job_sees_uploaded_files(rw, seeded):
    job = rw.run_job({"job_type": "cursor_task", "workspace_path": seeded["reply"]["path"],
                      "prompt": "read the seed\n@@run cat seed.txt\n@@run cp seed.txt copy.txt\n@@run ./run.sh"})
    assert job["status"] == "completed", job
    assert job["spec"]["workspace_path"] == seeded["reply"]["path"]
    assert rw.get(f"/jobs/{job['id']}/artifacts/copy.txt").content == seeded["seed"]
    # Unchanged uploaded files are not artifacts; the copy is.
    assert job["artifacts"]["files"] == ["copy.txt"], job["artifacts"]
    results = [e for e in rw.cursor_events(job["id"]) if e["type"] == "tool_result"]
    text = str(results)
    assert seeded["seed"].decode().strip() in text and "ran" in text, results


def test_each_sandbox_gets_its_own_copy(rw, seeded):
    first = rw.run_job({"job_type": "claude_task", "workspace_path": seeded["reply"]["path"],
                        "prompt": "change it\n@@write seed.txt\nmodified\n@@end"})
    assert first["status"] == "completed" and "seed.txt" in first["artifacts"]["files"], first
    second = rw.run_job({"job_type": "claude_task", "workspace_path": seeded["reply"]["path"],
                         "prompt": "copy it\n@@run cp seed.txt copy2.txt"})
    assert second["status"] == "completed", second
    assert second["sandbox_id"] != first["sandbox_id"]
    assert rw.get(f"/jobs/{second['id']}/artifacts/copy2.txt").content == seeded["seed"]


def test_duplicate_name_is_409(rw, seeded):
    resp = upload_workspace(rw, seeded["name"], tar_gz([file_entry("x.txt", b"x\n")]))
    assert_error(resp, 409, "CONFLICT")


@pytest.mark.parametrize("name", ["-starts-with-dash", ".hidden", "..", "a/b", "has space", "x" * 65, "ünï", "",
                                  "semi;colon", "new\nline"])
def test_bad_name_is_400(rw, name):
    assert_error(upload_workspace(rw, name, tar_gz([file_entry("a.txt", b"a\n")])), 400, "BAD_REQUEST")


def test_longest_valid_name(rw):
    name = "L" + secrets.token_hex(30) + "._-"   # 64 characters, every allowed punctuation
    assert len(name) == 64
    resp = upload_workspace(rw, name, tar_gz([file_entry("a.txt", b"a\n")]))
    assert resp.status_code == 200, describe(resp)
    assert resp.json()["path"] == f"/workspaces/{name}"


def test_missing_fields_are_400(rw):
    assert_error(upload_workspace(rw, None, tar_gz([file_entry("a.txt", b"a\n")])), 400, "BAD_REQUEST")
    assert_error(rw.post("/workspaces", files={"name": (None, unique())}), 400, "BAD_REQUEST")
    assert_error(rw.post("/workspaces", json={"name": unique(), "workspace": "x"}), 400, "BAD_REQUEST")
    assert_error(rw.post("/workspaces"), 400, "BAD_REQUEST")


# -- malicious archives -----------------------------------------------------------------------------------------
MARK = f"knify-bb-evil-{secrets.token_hex(4)}"


def _symlink_then_write():
    link = special_entry("link", tarfile.SYMTYPE, linkname="/tmp")
    return [link, file_entry(f"link/{MARK}-via-link.txt", b"evil\n")]


MALICIOUS = {
    "absolute path": lambda: tar_gz([file_entry(f"/tmp/{MARK}-abs.txt", b"evil\n")]),
    "dotdot path": lambda: tar_gz([file_entry(f"../{MARK}-up.txt", b"evil\n")]),
    "nested dotdot": lambda: tar_gz([file_entry("ok.txt", b"ok\n"), file_entry(f"a/../../../{MARK}-up2.txt", b"e\n")]),
    "symlink to /etc": lambda: tar_gz([special_entry("etc", tarfile.SYMTYPE, linkname="/etc")]),
    "relative symlink out": lambda: tar_gz([special_entry("up", tarfile.SYMTYPE, linkname="../../../..")]),
    "write through symlink": lambda: tar_gz(_symlink_then_write()),
    "hardlink to /etc/passwd": lambda: tar_gz([special_entry("passwd", tarfile.LNKTYPE, linkname="/etc/passwd")]),
    "hardlink outside": lambda: tar_gz([special_entry("h", tarfile.LNKTYPE, linkname="../../knify.sqlite")]),
    "char device": lambda: tar_gz([special_entry("null", tarfile.CHRTYPE, major=1, minor=3)]),
    "block device": lambda: tar_gz([special_entry("sda", tarfile.BLKTYPE, major=8, minor=0)]),
    "fifo": lambda: tar_gz([special_entry("pipe", tarfile.FIFOTYPE)]),
    "plain tar, not gzip": lambda: tar_gz([file_entry("a.txt", b"a\n")], compress=False),
    "gzip, not tar": lambda: gzip.compress(b"this is not a tar archive\n" * 100),
    "random bytes": lambda: secrets.token_bytes(4096),
    "empty body": lambda: b"",
    "truncated gzip": lambda: tar_gz([file_entry("a.txt", os.urandom(20000))])[:5000],
}


@pytest.mark.parametrize("case", list(MALICIOUS))
def test_malicious_archive_is_400(server, rw, case):
    name = unique("evil")
    resp = upload_workspace(rw, name, MALICIOUS[case]())
    assert_error(resp, 400, "BAD_REQUEST")
    # Nothing escaped onto the host, and the name is not taken by the refused upload.
    assert not list(Path("/tmp").glob(f"{MARK}*")), list(Path("/tmp").glob(f"{MARK}*"))
    assert not [p for p in server.data_dir.rglob(f"*{MARK}*")], "a file of the refused archive was written"
    listed = [w["name"] for w in rw.get("/workspaces").json()["data"]]
    assert name not in listed
    good = upload_workspace(rw, name, tar_gz([file_entry("fine.txt", b"fine\n")]))
    assert good.status_code == 200, describe(good)


def test_refused_workspace_cannot_be_used(rw):
    name = unique("evil-use")
    assert upload_workspace(rw, name, MALICIOUS["symlink to /etc"]()).status_code == 400
    assert_error(rw.post("/jobs", json={"spec": {"job_type": "cursor_task", "prompt": "x",
                                                 "workspace_path": f"/workspaces/{name}"}}), 400, "BAD_REQUEST")


def _multipart_stream(name: str, size: int, boundary: str):
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\n{name}\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"workspace\"; filename=\"big.tar.gz\"\r\n"
            f"Content-Type: application/gzip\r\n\r\n").encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    chunk = b"\0" * (1 << 20)

    def chunks():
        yield head
        sent = 0
        while sent < size:
            part = chunk[:min(len(chunk), size - sent)]
            sent += len(part)
            yield part
        yield tail

    return len(head) + size + len(tail), chunks()


def test_upload_over_the_size_cap_is_413(server, rw):
    boundary = "bb" + secrets.token_hex(8)
    length, chunks = _multipart_stream(unique("big"), UPLOAD_OVER_CAP, boundary)
    resp = raw_http(server.port, "POST", "/workspaces",
                    {"Authorization": f"Bearer {rw.key}", "Content-Type": f"multipart/form-data; boundary={boundary}",
                     "Content-Length": str(length)}, chunks, timeout=120)
    assert resp.status == 413, (resp.status, resp.body[:300])
    body = resp.json()
    assert set(body) == {"error", "detail", "code"} and body["code"] == "PAYLOAD_TOO_LARGE", body


def _gzip_bomb(size: int) -> bytes:
    """A tar.gz of one `size`-byte file of zeros: small on the wire, huge when extracted."""
    out = io.BytesIO()
    compressor = zlib.compressobj(1, zlib.DEFLATED, 31)   # gzip container
    info = tarfile.TarInfo("zeros.bin")
    info.size = size
    info.mode = 0o644
    header = info.tobuf(format=tarfile.GNU_FORMAT)
    out.write(compressor.compress(header))
    block = b"\0" * (1 << 20)
    written = 0
    while written < size:
        part = block[:min(len(block), size - written)]
        out.write(compressor.compress(part))
        written += len(part)
    out.write(compressor.compress(b"\0" * ((512 - size % 512) % 512 + 1024)))
    out.write(compressor.flush())
    return out.getvalue()


def test_decompression_bomb_is_refused(server, rw):
    archive = _gzip_bomb(BOMB_SIZE)
    assert len(archive) < 4 << 20
    name = unique("bomb")
    resp = upload_workspace(rw, name, archive)
    # Over the size cap once extracted: 413 PAYLOAD_TOO_LARGE (400 accepted: the archive is refused either way).
    assert resp.status_code in (413, 400), describe(resp)
    assert_error(resp, resp.status_code)
    used = sum(p.stat().st_size for p in server.data_dir.rglob("*") if p.is_file())
    assert used < 200 << 20, f"the refused bomb left {used >> 20} MiB in the data directory"
    assert name not in [w["name"] for w in rw.get("/workspaces").json()["data"]]
