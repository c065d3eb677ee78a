"""The Knaps API against a real `knify serve`: clients made with `knify-sandbox client`, OAuth client-credential
tokens (form and Basic, refresh rotation, revocation), knap CRUD with ownership and visibility across two
organisations, schedules parsed from English (checked against a zoneinfo oracle), runs as sandboxed jobs streamed
over SSE and continued by chat id, the meeting-transcription trigger, the per-client limit and the scheduler.

Every error under /api/ must be exactly {"detail": "…"}. Each test makes its own users in an organisation of its
own (random names), so knaps of other tests never show up in its lists or triggers."""

from __future__ import annotations

import base64
import json
import os
import re
import secrets
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
import requests

from conftest import BIG, track_server
from knify_api import CREATED_JOBS, ISO_Z, TERMINAL, Client, assert_error, describe, parse_ts, sse_read, wait_for
from knify_server import (KnifyServer, create_client, knaps_token, list_clients, revoke_client, sandbox_cli,
                          sweep_engine)

KNAPS = "/api/studio/knap-tools"
RUN = "/api/knap-tools/run"
MEETING = "/api/studio/knap-tools/events/meeting-transcription"
TOKEN = "/api/oauth/token"
REVOKE = "/api/oauth/revoke"
KNAP_FIELDS = {"uuid", "name", "creation_user_id", "schedule_type", "is_active", "visibility",
               "can_toggle_default_active", "active_by_default", "tool_metadata", "creation_timestamp", "updated_at",
               "schedule_info", "next_run_at", "agent", "model", "timezone"}
GRANT_FIELDS = {"access_token", "token_type", "expires_in", "refresh_token", "scope"}
RUN_FIELDS = {"run_id", "knap_uuid", "chat_id", "job_id", "status", "trigger", "slot_at", "note", "created_at",
              "completed_at", "error"}
SUMMARY_FIELDS = {"run_id", "chat_id", "job_id", "status", "messages", "tool_calls", "error"}
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
DEFAULT_KNAPS_LIMIT = 100  # requests per minute per client id, as the reference documents


# -- helpers ------------------------------------------------------------------------------------------------------
def tag() -> str:
    return secrets.token_hex(3)


def assert_detail(resp: requests.Response, status: int, contains: str | None = None) -> str:
    """Knapsack's error shape: `status` with a JSON body that is exactly {"detail": <non-empty string>}."""
    assert resp.status_code == status, describe(resp)
    assert resp.headers.get("Content-Type", "").startswith("application/json"), \
        f"error reply Content-Type {resp.headers.get('Content-Type')!r}: {describe(resp)}"
    body = resp.json()
    assert isinstance(body, dict) and set(body) == {"detail"}, \
        f'Knaps errors must be exactly {{"detail"}}: {describe(resp)}'
    detail = body["detail"]
    assert isinstance(detail, str) and detail.strip(), f"empty detail: {describe(resp)}"
    assert resp.headers.get("X-Request-Id"), f"no X-Request-Id on {describe(resp)}"
    if contains is not None:
        assert contains.lower() in detail.lower(), f"detail should mention {contains!r}: {describe(resp)}"
    return detail


def assert_knap(knap: dict) -> dict:
    """The knap object: Knapsack's fields and ours, every one present, with its type."""
    assert set(knap) == KNAP_FIELDS, f"knap fields {sorted(set(knap) ^ KNAP_FIELDS)} differ: {knap}"
    assert UUID_RE.match(knap["uuid"]), knap["uuid"]
    assert isinstance(knap["name"], str) and knap["name"]
    assert isinstance(knap["creation_user_id"], str) and knap["creation_user_id"]
    assert knap["schedule_type"] in ("manual", "scheduled", "post_meeting_transcription"), knap["schedule_type"]
    for key in ("is_active", "can_toggle_default_active", "active_by_default"):
        assert isinstance(knap[key], bool), (key, knap[key])
    assert isinstance(knap["visibility"], str) and knap["visibility"]
    assert isinstance(knap["tool_metadata"], dict) and isinstance(knap["tool_metadata"].get("action_description"), str)
    created, updated = parse_ts(knap["creation_timestamp"]), parse_ts(knap["updated_at"])
    assert updated >= created, knap
    assert knap["next_run_at"] is None or parse_ts(knap["next_run_at"])
    if knap["schedule_type"] == "scheduled":
        assert isinstance(knap["schedule_info"], dict), knap
    else:
        assert knap["schedule_info"] is None and knap["next_run_at"] is None, knap
    assert isinstance(knap["agent"], str) and knap["agent"]
    assert knap["model"] is None or isinstance(knap["model"], str)
    assert isinstance(knap["timezone"], str) and knap["timezone"]
    return knap


class KnapsUser(Client):
    """A Knaps API client made with the CLI, holding an access token from the client-credentials grant."""

    def __init__(self, server: KnifyServer, user: str, org: str | None = None, admin: bool = False):
        self.credentials = server.create_client(f"bb-{user}", user, org=org, org_admin=admin)
        self.grant = knaps_token(server.base_url, self.credentials)
        super().__init__(server.base_url, self.grant["access_token"], user)
        self.user = user
        self.org = org

    def create(self, body: dict, expect: int = 201) -> dict:
        resp = self.post(KNAPS, json=body)
        assert resp.status_code == expect, describe(resp)
        return assert_knap(resp.json())

    def show(self, uuid: str) -> requests.Response:
        return self.get(f"{KNAPS}/{uuid}")

    def patch(self, uuid: str, body: dict) -> requests.Response:
        return self.request("PATCH", f"{KNAPS}/{uuid}", json=body)

    def put(self, uuid: str, body: dict) -> requests.Response:
        return self.request("PUT", f"{KNAPS}/{uuid}", json=body)

    def delete(self, uuid: str) -> requests.Response:
        return self.request("DELETE", f"{KNAPS}/{uuid}")

    def listing(self) -> dict:
        resp = self.get(KNAPS)
        assert resp.status_code == 200, describe(resp)
        body = resp.json()
        assert set(body) == {"my_knaps", "organization_knaps", "public_knaps"}, body
        for knap in body["my_knaps"] + body["public_knaps"]:
            assert_knap(knap)
        for group in body["organization_knaps"]:
            assert set(group) == {"org_name", "knaps"}, group
            for knap in group["knaps"]:
                assert_knap(knap)
        return body

    def runs(self, uuid: str) -> list:
        resp = self.get(f"{KNAPS}/{uuid}/runs")
        assert resp.status_code == 200, describe(resp)
        assert set(resp.json()) == {"runs"}, resp.json()
        runs = resp.json()["runs"]
        for run in runs:
            assert set(run) == RUN_FIELDS, run
        return runs


def uuids(knaps: list) -> list:
    return [knap["uuid"] for knap in knaps]


def form_token(base_url: str, fields: dict, auth=None) -> requests.Response:
    return requests.post(base_url + TOKEN, data=fields, auth=auth, timeout=30)


def remember(*job_ids: str) -> None:
    """Knap runs are jobs: the session's teardown cleans their sandboxes up through the admin key."""
    CREATED_JOBS.extend(job_ids)


@pytest.fixture
def own_server(request):
    """Starts servers of this test's own (`own_server(label, **KnifyServer options)`); stops them, sweeps their
    sandboxes off the engine and, when the test passed, removes their files."""
    started: list[KnifyServer] = []
    failed_before = request.session.testsfailed

    def start(label: str, **options) -> KnifyServer:
        srv = track_server(KnifyServer(label=label, **options))
        started.append(srv)
        srv.start()
        return srv

    yield start
    for srv in started:
        srv.stop()
        sweep_engine(srv.node_id)
        if request.session.testsfailed == failed_before and os.environ.get("KNIFY_BB_KEEP") != "1":
            srv.remove_files()


@pytest.fixture
def org(server):
    """A fresh organisation with alice (member), bob (org admin), and carol of another organisation."""
    suffix = tag()
    acme, globex = f"acme-{suffix}", f"globex-{suffix}"
    return {
        "name": acme,
        "alice": KnapsUser(server, f"alice-{suffix}", acme),
        "bob": KnapsUser(server, f"bob-{suffix}", acme, admin=True),
        "carol": KnapsUser(server, f"carol-{suffix}", globex),
    }


# -- clients and tokens -------------------------------------------------------------------------------------------
def test_client_cli_create_list_revoke(server):
    user = f"cli-{tag()}"
    made = create_client(server.data_dir, "bb-cli", user, org="cli-org", org_admin=True)
    assert set(made) == {"client_id", "client_secret", "name", "user_id", "org", "org_admin", "created_at",
                         "revoked_at"}, made
    assert made["client_id"].startswith("knc_") and made["client_secret"].startswith("kncs_"), made
    assert (made["name"], made["user_id"], made["org"], made["org_admin"], made["revoked_at"]) == \
        ("bb-cli", user, "cli-org", True, None), made
    assert ISO_Z.match(made["created_at"]), made
    plain = create_client(server.data_dir, "bb-cli-plain", f"{user}-2")
    assert plain["org"] is None and plain["org_admin"] is False, plain
    assert plain["client_id"] != made["client_id"] and plain["client_secret"] != made["client_secret"]

    listed = {c["client_id"]: c for c in list_clients(server.data_dir)}
    assert made["client_id"] in listed and plain["client_id"] in listed, listed
    assert "client_secret" not in listed[made["client_id"]], "client list must never show a secret"
    assert made["client_secret"] not in sandbox_cli("client", "list", "--data-dir", str(server.data_dir)).stdout

    # The server sees a client made while it runs, and stops honouring it (and its tokens) once revoked.
    grant = knaps_token(server.base_url, made)
    user_client = Client(server.base_url, grant["access_token"])
    assert user_client.get(KNAPS).status_code == 200
    proc = revoke_client(server.data_dir, made["client_id"])
    assert proc.returncode == 0, proc.stderr
    assert_detail(user_client.get(KNAPS), 401)
    assert_detail(form_token(server.base_url, {"grant_type": "client_credentials", "client_id": made["client_id"],
                                               "client_secret": made["client_secret"]}), 401)
    assert_detail(form_token(server.base_url, {"grant_type": "refresh_token",
                                               "refresh_token": grant["refresh_token"]}), 401)
    assert revoke_client(server.data_dir, "knc_doesnotexist").returncode != 0
    missing = sandbox_cli("client", "create", "--data-dir", str(server.data_dir), "--name", "x", check=False)
    assert missing.returncode != 0, "client create without --user must fail"


def test_token_form_and_basic(server):
    made = create_client(server.data_dir, "bb-token", f"tok-{tag()}")
    resp = form_token(server.base_url, {"grant_type": "client_credentials", "client_id": made["client_id"],
                                        "client_secret": made["client_secret"]})
    assert resp.status_code == 200, describe(resp)
    assert resp.headers.get("Cache-Control") == "no-store", resp.headers
    grant = resp.json()
    assert set(grant) == GRANT_FIELDS, grant
    assert grant["token_type"] == "Bearer" and grant["expires_in"] == 3600, grant
    assert isinstance(grant["scope"], str) and grant["scope"], grant
    assert grant["access_token"] != grant["refresh_token"]

    # HTTP Basic client authentication (RFC 6749 §2.3.1), by requests and by hand.
    basic = form_token(server.base_url, {"grant_type": "client_credentials"},
                       auth=(made["client_id"], made["client_secret"]))
    assert basic.status_code == 200, describe(basic)
    assert set(basic.json()) == GRANT_FIELDS
    header = base64.b64encode(f"{made['client_id']}:{made['client_secret']}".encode()).decode()
    by_hand = requests.post(server.base_url + TOKEN, data="grant_type=client_credentials", timeout=30,
                            headers={"Authorization": f"Basic {header}",
                                     "Content-Type": "application/x-www-form-urlencoded"})
    assert by_hand.status_code == 200, describe(by_hand)
    # A JSON body is accepted too.
    as_json = requests.post(server.base_url + TOKEN, timeout=30, json={
        "grant_type": "client_credentials", "client_id": made["client_id"], "client_secret": made["client_secret"]})
    assert as_json.status_code == 200 and set(as_json.json()) == GRANT_FIELDS, describe(as_json)
    tokens = {grant["access_token"], basic.json()["access_token"], by_hand.json()["access_token"]}
    assert len(tokens) == 3, "every grant must issue a new access token"

    for token in tokens:
        resp = Client(server.base_url, token).get(KNAPS)
        assert resp.status_code == 200, describe(resp)
        # The documented default: 100 requests per minute per client id.
        assert resp.headers.get("X-RateLimit-Limit") == str(DEFAULT_KNAPS_LIMIT), resp.headers
    # The three tokens are one client's: they share its per-minute window (unless a new minute began meanwhile).
    seen = [Client(server.base_url, t).get(KNAPS).headers for t in sorted(tokens)]
    if len({h["X-RateLimit-Reset"] for h in seen}) == 1:
        remaining = [int(h["X-RateLimit-Remaining"]) for h in seen]
        assert remaining == [remaining[0], remaining[0] - 1, remaining[0] - 2], remaining


def test_refresh_rotates_and_is_spent_once(server):
    made = create_client(server.data_dir, "bb-refresh", f"ref-{tag()}")
    first = knaps_token(server.base_url, made)
    resp = form_token(server.base_url, {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]})
    assert resp.status_code == 200, describe(resp)
    second = resp.json()
    assert set(second) == GRANT_FIELDS and second["token_type"] == "Bearer" and second["expires_in"] == 3600
    assert second["access_token"] != first["access_token"] and second["refresh_token"] != first["refresh_token"]
    assert Client(server.base_url, second["access_token"]).get(KNAPS).status_code == 200
    # The spent refresh token is refused; the new one works (with the matching client id too), once.
    assert_detail(form_token(server.base_url, {"grant_type": "refresh_token",
                                               "refresh_token": first["refresh_token"]}), 401, "refresh token")
    resp = form_token(server.base_url, {"grant_type": "refresh_token", "refresh_token": second["refresh_token"],
                                        "client_id": made["client_id"]})
    assert resp.status_code == 200, describe(resp)
    third = resp.json()
    assert_detail(form_token(server.base_url, {"grant_type": "refresh_token",
                                               "refresh_token": second["refresh_token"]}), 401)
    # Another client's id with this refresh token is refused; an access token is no refresh token.
    other = create_client(server.data_dir, "bb-refresh-other", f"ref2-{tag()}")
    assert_detail(form_token(server.base_url, {"grant_type": "refresh_token", "refresh_token": third["refresh_token"],
                                               "client_id": other["client_id"]}), 401)
    assert_detail(form_token(server.base_url, {"grant_type": "refresh_token",
                                               "refresh_token": third["access_token"]}), 401)
    assert_detail(form_token(server.base_url, {"grant_type": "refresh_token"}), 400, "refresh_token")


def test_revoke(server):
    made = create_client(server.data_dir, "bb-revoke", f"rev-{tag()}")
    grant = knaps_token(server.base_url, made)
    spare = knaps_token(server.base_url, made)
    client = Client(server.base_url, grant["access_token"])
    assert client.get(KNAPS).status_code == 200
    resp = requests.post(server.base_url + REVOKE, data={"token": grant["access_token"]}, timeout=30)
    assert resp.status_code == 200, describe(resp)
    assert_detail(client.get(KNAPS), 401, "revoked")
    # Only that token: the client's other token still works.
    assert Client(server.base_url, spare["access_token"]).get(KNAPS).status_code == 200
    # A revoked refresh token cannot be used; revoking an unknown token is not an error (RFC 7009).
    resp = requests.post(server.base_url + REVOKE, data={"token": spare["refresh_token"]}, timeout=30)
    assert resp.status_code == 200, describe(resp)
    assert_detail(form_token(server.base_url, {"grant_type": "refresh_token",
                                               "refresh_token": spare["refresh_token"]}), 401)
    resp = requests.post(server.base_url + REVOKE, data={"token": "knat_" + secrets.token_hex(20)}, timeout=30)
    assert resp.status_code == 200, describe(resp)
    assert_detail(requests.post(server.base_url + REVOKE, data={}, timeout=30), 400, "token")


ID, SECRET = "<client_id>", "<client_secret>"  # replaced by a real client's


@pytest.mark.parametrize("fields,auth,status,contains", [
    ({"grant_type": "client_credentials", "client_id": ID, "client_secret": "wrong"}, None, 401,
     "invalid client credentials"),
    ({"grant_type": "client_credentials", "client_id": "knc_nosuchclient", "client_secret": SECRET}, None, 401, None),
    ({"grant_type": "client_credentials"}, (ID, "wrong"), 401, None),
    ({"grant_type": "client_credentials", "client_id": ID}, None, 400, "client_secret"),
    ({"client_id": ID, "client_secret": SECRET}, None, 400, "grant_type"),
    ({"grant_type": "password", "username": ID, "password": SECRET}, None, 400, "unsupported grant_type"),
    ({"grant_type": "authorization_code", "code": "x"}, (ID, SECRET), 400, "unsupported grant_type"),
], ids=["wrong-secret", "unknown-client", "wrong-basic-secret", "no-secret", "no-grant-type", "password-grant",
        "code-grant"])
def test_token_refusals(server, fields, auth, status, contains):
    made = create_client(server.data_dir, "bb-refusals", f"refuse-{tag()}")
    real = {ID: made["client_id"], SECRET: made["client_secret"]}
    fields = {name: real.get(value, value) for name, value in fields.items()}
    auth = tuple(real.get(value, value) for value in auth) if auth else None
    resp = form_token(server.base_url, fields, auth=auth)
    assert_detail(resp, status, contains)
    if status == 401:
        assert "access_token" not in resp.text


def test_token_refuses_a_broken_form(server):
    resp = requests.post(server.base_url + TOKEN, data="grant_type=client_credentials&client_id=%zz", timeout=30,
                         headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert_detail(resp, 400)


def test_no_or_garbage_token(server, keys):
    for headers, contains in [
        ({}, "Bearer"),
        ({"Authorization": "Bearer"}, None),
        ({"Authorization": "Bearer garbage"}, None),
        ({"Authorization": "Bearer knat_" + secrets.token_hex(20)}, None),
        ({"Authorization": "Basic " + base64.b64encode(b"user:pass").decode()}, None),
        ({"Authorization": "Token abc"}, None),
        # A Knify API key is not a Knaps token.
        ({"Authorization": f"Bearer {keys['admin']['api_key']}"}, None),
    ]:
        for method, path in (("GET", KNAPS), ("POST", KNAPS), ("GET", f"{KNAPS}/00000000-0000-0000-0000-000000000000"),
                             ("POST", RUN), ("POST", MEETING)):
            resp = requests.request(method, server.base_url + path, headers=headers, json={}, timeout=30)
            assert_detail(resp, 401, contains)
    # … and a Knaps token is not a Knify API key: /jobs answers with its own envelope.
    user = KnapsUser(server, f"cross-{tag()}")
    assert_error(requests.get(server.base_url + "/jobs", headers={"Authorization": f"Bearer {user.key}"}, timeout=30),
                 401, "UNAUTHORIZED")


def test_unknown_api_route_is_a_detail(server):
    user = KnapsUser(server, f"route-{tag()}")
    assert_detail(user.get("/api/studio/no-such-route"), 404)
    assert_detail(requests.get(server.base_url + "/api/nothing-here", timeout=30), 404)


def test_oversized_bodies_are_a_detail(server):
    user = KnapsUser(server, f"big-{tag()}")
    resp = requests.post(server.base_url + TOKEN, data="grant_type=client_credentials&pad=" + "a" * 200_000,
                         headers={"Content-Type": "application/x-www-form-urlencoded"}, timeout=30)
    assert_detail(resp, 413)
    resp = user.post(KNAPS, json={"name": "big", "tool_metadata": {"action_description": "a" * (20 << 20)}})
    assert_detail(resp, 413)
    # Under the body limit but over the metadata limit: a 400 naming it.
    resp = user.post(KNAPS, json={"name": "big", "tool_metadata": {"action_description": "a" * (70 << 10)}})
    assert_detail(resp, 400, "tool_metadata")
    assert user.listing()["my_knaps"] == []


# -- CRUD ---------------------------------------------------------------------------------------------------------
def test_crud_lists_and_permissions(org):
    alice, bob, carol, acme = org["alice"], org["bob"], org["carol"], org["name"]
    org_knap = alice.create({"name": "Weekly digest", "visibility": acme, "timezone": "Europe/Berlin",
                             "tool_metadata": {"action_description": "Summarise the week", "tool_types": ["github"]}})
    assert (org_knap["creation_user_id"], org_knap["visibility"], org_knap["schedule_type"], org_knap["is_active"],
            org_knap["agent"], org_knap["model"], org_knap["timezone"]) == \
        (alice.user, acme, "manual", True, "cursor_task", None, "Europe/Berlin"), org_knap
    assert org_knap["creation_timestamp"] == org_knap["updated_at"]
    private = alice.create({"name": "Alice's own", "tool_metadata": {"action_description": "x"}})
    assert private["visibility"] == "private", "private is the default"
    public = carol.create({"name": "Carol's public", "visibility": "public",
                           "tool_metadata": {"action_description": "y"}})
    bobs = bob.create({"name": "Bob's org knap", "visibility": acme, "tool_metadata": {"action_description": "z"}})

    # Lists: own first, then the organisation's by others, then public ones by others.
    listed = alice.listing()
    assert set(uuids(listed["my_knaps"])) == {org_knap["uuid"], private["uuid"]}, listed
    assert [g["org_name"] for g in listed["organization_knaps"]] == [acme], listed
    assert uuids(listed["organization_knaps"][0]["knaps"]) == [bobs["uuid"]], listed
    assert public["uuid"] in uuids(listed["public_knaps"])
    assert not {org_knap["uuid"], private["uuid"], bobs["uuid"]} & set(uuids(listed["public_knaps"]))
    listed = bob.listing()
    assert uuids(listed["my_knaps"]) == [bobs["uuid"]]
    assert [g["org_name"] for g in listed["organization_knaps"]] == [acme]
    assert uuids(listed["organization_knaps"][0]["knaps"]) == [org_knap["uuid"]], "alice's private knap is hers alone"
    listed = carol.listing()
    assert uuids(listed["my_knaps"]) == [public["uuid"]]
    assert all(g["org_name"] == carol.org and g["knaps"] == [] for g in listed["organization_knaps"]), listed
    seen_by_carol = set(uuids(listed["my_knaps"] + listed["public_knaps"]))
    assert not {org_knap["uuid"], private["uuid"], bobs["uuid"]} & seen_by_carol
    # The listed object is the object GET shows.
    shown = alice.show(org_knap["uuid"])
    assert shown.status_code == 200 and shown.json() == org_knap, describe(shown)

    # Invisible → 404 (a private uuid is not revealed); visible but not theirs → 403.
    for uuid in (org_knap["uuid"], private["uuid"]):
        assert_detail(carol.show(uuid), 404)
        assert_detail(carol.patch(uuid, {"name": "x"}), 404)
        assert_detail(carol.put(uuid, {"name": "x"}), 404)
        assert_detail(carol.delete(uuid), 404)
        assert_detail(carol.get(f"{KNAPS}/{uuid}/runs"), 404)
    assert_detail(bob.show(private["uuid"]), 404)
    assert_detail(bob.patch(private["uuid"], {"name": "x"}), 404)
    assert bob.show(org_knap["uuid"]).status_code == 200
    assert alice.show(public["uuid"]).status_code == 200
    assert_detail(alice.patch(public["uuid"], {"name": "mine now"}), 403, "owner")
    assert_detail(alice.delete(public["uuid"]), 403)
    assert_detail(bob.delete(public["uuid"]), 403, "owner")  # an admin of another organisation
    assert_detail(alice.patch(bobs["uuid"], {"name": "x"}), 403)  # a member, not an admin
    assert_detail(alice.delete(bobs["uuid"]), 403)
    unchanged = carol.show(public["uuid"]).json()
    assert unchanged["name"] == "Carol's public" and unchanged["updated_at"] == public["updated_at"]

    # The org admin may change a member's org knap: a partial update, tool_metadata merged key by key.
    resp = bob.patch(org_knap["uuid"], {"name": "Renamed by the admin"})
    assert resp.status_code == 200, describe(resp)
    renamed = assert_knap(resp.json())
    assert renamed["name"] == "Renamed by the admin"
    for key in KNAP_FIELDS - {"name", "updated_at"}:
        assert renamed[key] == org_knap[key], (key, renamed[key], org_knap[key])
    assert parse_ts(renamed["updated_at"]) >= parse_ts(org_knap["updated_at"])
    resp = alice.put(org_knap["uuid"], {"tool_metadata": {"tool_types": ["github", "slack"], "extra": 1},
                                        "is_active": False, "model": "sonnet-4.5"})
    assert resp.status_code == 200, describe(resp)
    updated = assert_knap(resp.json())
    assert updated["tool_metadata"] == {"action_description": "Summarise the week", "tool_types": ["github", "slack"],
                                        "extra": 1}, updated
    assert (updated["is_active"], updated["model"], updated["name"]) == (False, "sonnet-4.5", "Renamed by the admin")
    resp = alice.patch(org_knap["uuid"], {"tool_metadata": {"extra": None}})
    assert resp.status_code == 200 and "extra" not in resp.json()["tool_metadata"], describe(resp)
    assert alice.show(org_knap["uuid"]).json() == resp.json(), "GET shows what the update answered"

    # Visibility is fixed at creation; the same value is no change.
    for visibility in ("public", "private", carol.org):
        assert_detail(alice.patch(org_knap["uuid"], {"visibility": visibility}), 400, "visibility")
    assert alice.patch(org_knap["uuid"], {"visibility": acme}).status_code == 200
    assert alice.show(org_knap["uuid"]).json()["visibility"] == acme

    # Delete: the owner's own private knap, and the admin a member's org knap; both are gone afterwards.
    resp = alice.delete(private["uuid"])
    assert resp.status_code == 200, describe(resp)
    assert resp.json() == {"detail": "knap deleted", "uuid": private["uuid"]}
    resp = bob.delete(org_knap["uuid"])
    assert resp.status_code == 200, describe(resp)
    for uuid in (private["uuid"], org_knap["uuid"]):
        assert_detail(alice.show(uuid), 404)
        assert_detail(alice.delete(uuid), 404)
        assert_detail(alice.patch(uuid, {"name": "ghost"}), 404)
    assert set(uuids(alice.listing()["my_knaps"])) == set()
    assert bob.delete(bobs["uuid"]).status_code == 200
    assert carol.delete(public["uuid"]).status_code == 200


@pytest.mark.parametrize("body,contains", [
    ({"tool_metadata": {"action_description": "x"}}, "name"),
    ({"name": "   ", "tool_metadata": {"action_description": "x"}}, "name"),
    ({"name": "x" * 201, "tool_metadata": {"action_description": "x"}}, "name"),
    ({"name": "n"}, "action_description"),
    ({"name": "n", "tool_metadata": {"action_description": "  "}}, "action_description"),
    ({"name": "n", "tool_metadata": {"action_description": 5}}, "action_description"),
    ({"name": "n", "tool_metadata": {"action_description": "x", "tool_types": "github"}}, "tool_types"),
    ({"name": "n", "schedule_type": "hourly", "tool_metadata": {"action_description": "x"}}, "schedule_type"),
    ({"name": "n", "schedule_type": "scheduled", "tool_metadata": {"action_description": "x"}}, "schedule_description"),
    ({"name": "n", "timezone": "Mars/Olympus", "tool_metadata": {"action_description": "x"}}, "timezone"),
    ({"name": "n", "agent": "user_exam", "tool_metadata": {"action_description": "x"}}, "agent"),
    ({"name": "n", "model": "no-such-model", "tool_metadata": {"action_description": "x"}}, None),
    ({"name": "n", "visibility": "someone-elses-org", "tool_metadata": {"action_description": "x"}}, "visibility"),
    ({"name": "n", "is_active": "yes", "tool_metadata": {"action_description": "x"}}, "is_active"),
    ([1, 2], None),
], ids=["no-name", "blank-name", "long-name", "no-metadata", "blank-action", "action-not-string", "tool-types-string",
        "bad-schedule-type", "scheduled-without-description", "bad-timezone", "user-exam-agent", "unknown-model",
        "foreign-visibility", "is-active-string", "array-body"])
def test_create_refusals(server, body, contains):
    user = KnapsUser(server, f"refuse-{tag()}", f"org-{tag()}")
    assert_detail(user.post(KNAPS, json=body), 400, contains)
    assert user.listing()["my_knaps"] == [], "a refused create must leave nothing behind"


def test_bodies_that_are_not_json(server):
    user = KnapsUser(server, f"nojson-{tag()}")
    knap = user.create({"name": "n", "tool_metadata": {"action_description": "x"}})
    for method, path in (("POST", KNAPS), ("PATCH", f"{KNAPS}/{knap['uuid']}"), ("PUT", f"{KNAPS}/{knap['uuid']}"),
                         ("POST", RUN), ("POST", MEETING)):
        resp = user.request(method, path, data="{nope", headers={"Content-Type": "application/json"})
        assert_detail(resp, 400, "JSON")
    assert user.show(knap["uuid"]).json() == knap


# -- schedules ----------------------------------------------------------------------------------------------------
def next_slot(after: datetime, zone: str, hour: int, minute: int, matches) -> datetime:
    """The oracle: the first local day (from `after`'s local date on) that `matches` whose hh:mm wall time in `zone`
    lies strictly after `after`, in UTC."""
    tz = ZoneInfo(zone)
    day = after.astimezone(tz).date()
    for _ in range(800):
        if matches(day):
            candidate = datetime(day.year, day.month, day.day, hour, minute, tzinfo=tz)
            if candidate > after:
                return candidate.astimezone(timezone.utc)
        day += timedelta(days=1)
    raise AssertionError("no slot within 800 days")


SCHEDULE_KEYS = ("schedule_type", "schedule_time", "days_of_week", "days_of_month", "weeks_of_month", "months_of_year")


def documented(info: dict) -> dict:
    return {key: info.get(key) for key in SCHEDULE_KEYS}


SCHEDULES = [
    # description, zone, expected schedule_info subset, (hour, minute), day predicate
    ("every Monday at 9am", "Europe/Berlin",
     {"schedule_type": "weekly", "schedule_time": "09:00", "days_of_week": [1]}, (9, 0), lambda d: d.weekday() == 0),
    ("daily at 2:30 PM", "America/New_York",
     {"schedule_type": "daily", "schedule_time": "14:30"}, (14, 30), lambda d: True),
    ("every Thursday at 11 AM", "Asia/Tokyo",
     {"schedule_type": "weekly", "schedule_time": "11:00", "days_of_week": [4]}, (11, 0), lambda d: d.weekday() == 3),
    ("15th of every month at 10:00", "UTC",
     {"schedule_type": "monthly", "schedule_time": "10:00", "days_of_month": [15]}, (10, 0), lambda d: d.day == 15),
    ("every March 15th at 2 PM", "Australia/Sydney",
     {"schedule_type": "yearly", "schedule_time": "14:00", "days_of_month": [15], "months_of_year": [3]}, (14, 0),
     lambda d: d.month == 3 and d.day == 15),
]


@pytest.mark.parametrize("description,zone,info,time_of_day,matches", SCHEDULES, ids=[s[0] for s in SCHEDULES])
def test_schedule_info_and_next_run(server, description, zone, info, time_of_day, matches):
    user = KnapsUser(server, f"sched-{tag()}")
    knap = user.create({"name": description, "timezone": zone,
                        "tool_metadata": {"action_description": "report", "schedule_description": description}})
    # A schedule description without schedule_type makes a scheduled knap.
    assert knap["schedule_type"] == "scheduled" and knap["timezone"] == zone, knap
    schedule = knap["schedule_info"]
    for key in SCHEDULE_KEYS:
        assert key in schedule, f"schedule_info lacks {key}: {schedule}"
    for key, value in info.items():
        assert schedule[key] == value, (key, schedule)
    for key in {"days_of_week", "days_of_month", "weeks_of_month", "months_of_year"} - set(info):
        assert schedule[key] in ([], None), f"{description!r} should not set {key}: {schedule}"
    assert knap["next_run_at"].endswith("Z"), knap["next_run_at"]
    expected = next_slot(parse_ts(knap["creation_timestamp"]), zone, *time_of_day, matches)
    assert parse_ts(knap["next_run_at"]) == expected, \
        f"{description!r} in {zone}, created {knap['creation_timestamp']}: next_run_at {knap['next_run_at']}, " \
        f"expected {expected.isoformat()}"


def test_first_monday_of_every_month(server):
    user = KnapsUser(server, f"sched-{tag()}")
    knap = user.create({"name": "monthly", "timezone": "Europe/Berlin", "tool_metadata": {
        "action_description": "r", "schedule_description": "first Monday of every month"}})
    schedule = knap["schedule_info"]
    assert (schedule["schedule_type"], schedule["days_of_week"], schedule["weeks_of_month"]) == ("monthly", [1], [1])
    local = parse_ts(knap["next_run_at"]).astimezone(ZoneInfo("Europe/Berlin"))
    expected_day = next_slot(parse_ts(knap["creation_timestamp"]), "Europe/Berlin", local.hour, local.minute,
                             lambda d: d.weekday() == 0 and d.day <= 7)
    assert parse_ts(knap["next_run_at"]) == expected_day, (knap["next_run_at"], expected_day)
    assert f"{local.hour:02d}:{local.minute:02d}" == schedule["schedule_time"]


def test_schedule_changes_and_inactive_knaps(server):
    user = KnapsUser(server, f"sched-{tag()}")
    knap = user.create({"name": "weekly", "timezone": "Europe/Berlin",
                        "tool_metadata": {"action_description": "r", "schedule_description": "every Monday at 9am"}})
    # An unrelated edit keeps the slot; a new description and zone give a new schedule counted from the update.
    renamed = user.patch(knap["uuid"], {"name": "renamed"}).json()
    assert renamed["next_run_at"] == knap["next_run_at"] and renamed["schedule_info"] == knap["schedule_info"]
    resp = user.patch(knap["uuid"], {"timezone": "America/New_York",
                                     "tool_metadata": {"schedule_description": "daily at 2:30 PM"}})
    assert resp.status_code == 200, describe(resp)
    daily = resp.json()
    assert (daily["schedule_info"]["schedule_type"], daily["schedule_info"]["schedule_time"]) == ("daily", "14:30")
    assert parse_ts(daily["next_run_at"]) == next_slot(parse_ts(daily["updated_at"]), "America/New_York", 14, 30,
                                                       lambda d: True), daily
    # Junk in an update is refused and changes nothing.
    assert_detail(user.patch(knap["uuid"], {"tool_metadata": {"schedule_description": "every blue moon"}}), 400,
                  "Accepted forms")
    assert user.show(knap["uuid"]).json() == daily
    # Inactive: the schedule stays, no next run; active again: a next run again.
    off = user.patch(knap["uuid"], {"is_active": False}).json()
    assert off["is_active"] is False and off["next_run_at"] is None, off
    assert documented(off["schedule_info"]) == documented(daily["schedule_info"]), off
    on = user.patch(knap["uuid"], {"is_active": True}).json()
    assert parse_ts(on["next_run_at"]) == next_slot(parse_ts(on["updated_at"]), "America/New_York", 14, 30,
                                                    lambda d: True), on
    # Manual again: no schedule at all.
    manual = user.patch(knap["uuid"], {"schedule_type": "manual"}).json()
    assert manual["schedule_info"] is None and manual["next_run_at"] is None, manual
    created_inactive = user.create({"name": "off", "is_active": False, "tool_metadata": {
        "action_description": "r", "schedule_description": "every Monday at 9am"}})
    assert created_inactive["next_run_at"] is None and created_inactive["schedule_info"]["days_of_week"] == [1]


@pytest.mark.parametrize("junk", ["every blue moon", "every Monday at 25:00", "sometimes, maybe",
                                  "every Monday at 9am unless it rains", "February 30th every year"])
def test_junk_schedule_is_a_400_with_accepted_forms(server, junk):
    user = KnapsUser(server, f"junk-{tag()}")
    detail = assert_detail(user.post(KNAPS, json={"name": "junk", "tool_metadata": {
        "action_description": "x", "schedule_description": junk}}), 400, "Accepted forms")
    assert "every Monday at 9am" in detail, detail
    assert user.listing()["my_knaps"] == []


# -- runs ---------------------------------------------------------------------------------------------------------
NOTES_PROMPT = "Write it\n@@write notes.md\n# Notes\n@@end\n@@run cat notes.md"


def check_run_events(messages: list) -> dict:
    """The stream's order and shapes: run_started first, done last, tool calls as execution/result pairs."""
    assert messages, "no SSE events"
    names = [m.event for m in messages]
    for message in messages:
        assert message.data.get("type") == message.event, f"event {message.event!r} carries type {message.data}"
        assert message.event in ("run_started", "tool_execution", "tool_result", "message", "error", "done"), names
    assert names[0] == "run_started" and names[-1] == "done", names
    assert names.count("run_started") == 1 and names.count("done") == 1, names
    started, done = messages[0].data, messages[-1].data
    assert set(started) == {"type", "run_id", "chat_id", "job_id"}, started
    assert done["chat_id"] == started["chat_id"] and done["status"] == "completed", done
    assert done.get("run_id") == started["run_id"] and done.get("job_id") == started["job_id"], (started, done)
    pending = None
    pairs = []
    for message in messages[1:-1]:
        if message.event == "tool_execution":
            assert pending is None, f"tool_execution before the previous tool's result: {names}"
            assert message.data["status"] == "running" and message.data["queryUuid"], message.data
            pending = message.data
        elif message.event == "tool_result":
            assert pending is not None, f"tool_result without tool_execution: {names}"
            assert message.data["queryUuid"] == pending["queryUuid"], (pending, message.data)
            assert message.data["tool_name"] == pending["tool_name"], (pending, message.data)
            pairs.append((pending, message.data))
            pending = None
        elif message.event == "message":
            assert isinstance(message.data["content"], str) and message.data["content"], message.data
    assert pending is None, f"a tool never got its result: {names}"
    assert len({p[0]["queryUuid"] for p in pairs}) == len(pairs), "queryUuid must be unique per call"
    return {"started": started, "done": done, "pairs": pairs,
            "messages": [m.data["content"] for m in messages if m.event == "message"]}


def test_streamed_run_then_continued_by_chat(server, admin, org):
    alice, carol = org["alice"], org["carol"]
    knap = alice.create({"name": "Digest", "tool_metadata": {"action_description": "Write a digest of the notes",
                                                             "tool_types": ["files", "shell"]}})
    body = {"knap_uuid": knap["uuid"], "messages": [{"role": "user", "content": NOTES_PROMPT}]}
    response, messages = sse_read(server.base_url, RUN, method="POST", json_body=body,
                                  headers={"Authorization": f"Bearer {alice.key}"}, deadline_s=90)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream"), response.headers
    run = check_run_events(messages)
    remember(run["started"]["job_id"])
    assert [(p[0]["tool_name"]) for p in run["pairs"]] == ["write_file", "run_shell_command"], run["pairs"]
    written, shell = run["pairs"]
    assert written[0]["parameters"]["path"] == "notes.md", written
    assert "# Notes" in str(shell[1]["result"]), shell
    assert run["messages"], "the agent said nothing"
    chat_id, first_job = run["started"]["chat_id"], run["started"]["job_id"]

    # The next turn of the chat: one JSON reply, same sandbox and agent session.
    resp = alice.post(RUN, json={"chat_id": chat_id, "stream_updates": False,
                                 "messages": [{"role": "user", "content": "Now count lines\n@@run wc -l notes.md"}]},
                      timeout=90)
    assert resp.status_code == 200, describe(resp)
    assert resp.headers["Content-Type"].startswith("application/json")
    summary = resp.json()
    remember(summary["job_id"])
    assert set(summary) == SUMMARY_FIELDS, summary
    assert (summary["chat_id"], summary["status"], summary["error"]) == (chat_id, "completed", None), summary
    assert summary["job_id"] != first_job and summary["run_id"] != run["started"]["run_id"]
    contents = [m["content"] for m in summary["messages"]]
    assert all(m["role"] == "assistant" for m in summary["messages"]), summary["messages"]
    assert contents and contents[0].startswith("Resuming session"), contents
    assert [c["tool_name"] for c in summary["tool_calls"]] == ["run_shell_command"], summary["tool_calls"]
    assert "1 notes.md" in str(summary["tool_calls"][0]["result"]), "the file of the first turn is still there"

    # Through the Knify API (admin key): the second run's job continues the first in its sandbox.
    first, second = admin.job(first_job), admin.job(summary["job_id"])
    assert first["status"] == second["status"] == "completed", (first, second)
    assert second["parent_job_id"] == first_job and second["sandbox_id"] == first["sandbox_id"], second
    assert "Write a digest of the notes" in first["spec"]["prompt"], first["spec"]

    runs = alice.runs(knap["uuid"])
    assert [r["job_id"] for r in runs] == [summary["job_id"], first_job], runs
    for r in runs:
        assert (r["status"], r["chat_id"], r["knap_uuid"], r["trigger"]) == ("completed", chat_id, knap["uuid"], "api")
        assert parse_ts(r["completed_at"]) >= parse_ts(r["created_at"]), r
    assert runs[1]["run_id"] == run["started"]["run_id"]

    # Another user can neither continue the chat nor run the private knap; unknown chats and empty bodies are refused.
    next_turn = {"chat_id": chat_id, "messages": [{"role": "user", "content": "hi"}]}
    assert_detail(carol.post(RUN, json=next_turn), 404, "chat")
    assert_detail(carol.post(RUN, json={"knap_uuid": knap["uuid"], "messages": []}), 404)
    assert_detail(carol.get(f"{KNAPS}/{knap['uuid']}/runs"), 404)
    assert_detail(alice.post(RUN, json={"chat_id": "chat_" + secrets.token_hex(8),
                                        "messages": [{"role": "user", "content": "hi"}]}), 404, "chat")
    assert_detail(alice.post(RUN, json={"chat_id": chat_id, "messages": []}), 400)
    assert_detail(alice.post(RUN, json={"messages": []}), 400, "knap_uuid")
    assert_detail(alice.post(RUN, json={"knap_uuid": "00000000-0000-0000-0000-000000000000", "messages": []}), 404)
    assert len(alice.runs(knap["uuid"])) == 2, "refused runs must leave no run behind"


def test_failed_run_conflicts_and_a_dropped_stream(server, admin, org):
    alice = org["alice"]
    knap = alice.create({"name": "Slow", "tool_metadata": {"action_description": "take your time"}})
    auth = {"Authorization": f"Bearer {alice.key}"}

    # A failing agent: the stream reports the error, then done with status failed.
    failing = {"knap_uuid": knap["uuid"],
               "messages": [{"role": "user", "content": "fail\n@@run echo before\n@@fail 3 out of memory"}]}
    _, messages = sse_read(server.base_url, RUN, method="POST", json_body=failing, headers=auth, deadline_s=90)
    remember(messages[0].data["job_id"])
    names = [m.event for m in messages]
    assert names[0] == "run_started" and names[-2:] == ["error", "done"], names
    assert "out of memory" in messages[-2].data["detail"], messages[-2].data
    assert messages[-1].data["status"] == "failed", messages[-1].data
    assert admin.job(messages[0].data["job_id"])["status"] == "failed"

    # A reader that goes away after run_started does not stop the run.
    slow = {"knap_uuid": knap["uuid"],
            "messages": [{"role": "user", "content": "slow\n@@sleep 5\n@@write after.txt\nwritten later\n@@end"}]}
    _, first = sse_read(server.base_url, RUN, method="POST", json_body=slow, headers=auth, stop_after=1)
    started = first[0].data
    assert first[0].event == "run_started", first
    remember(started["job_id"])
    # While that turn runs, the chat cannot take the next one.
    next_turn = {"chat_id": started["chat_id"], "stream_updates": False,
                 "messages": [{"role": "user", "content": "next\n@@run cat after.txt"}]}
    assert_detail(alice.post(RUN, json=next_turn), 409)
    assert admin.wait_job(started["job_id"], timeout=90)["status"] == "completed"
    run = [r for r in alice.runs(knap["uuid"]) if r["job_id"] == started["job_id"]]
    assert [r["status"] for r in run] == ["completed"], run
    resp = alice.post(RUN, json=next_turn, timeout=90)
    assert resp.status_code == 200, describe(resp)
    remember(resp.json()["job_id"])
    assert resp.json()["status"] == "completed" and "written later" in str(resp.json()["tool_calls"]), resp.json()

    # Once the chat's sandbox is cleaned up (Knify API, admin key), the chat cannot go on.
    cleaned = admin.post(f"/jobs/{resp.json()['job_id']}/cleanup")
    assert cleaned.status_code == 200, describe(cleaned)
    assert_detail(alice.post(RUN, json=next_turn), 409, "clean")


def test_ad_hoc_run_without_a_knap(server, admin):
    user = KnapsUser(server, f"adhoc-{tag()}")
    resp = user.post(RUN, json={"stream_updates": False, "agent": "claude_task",
                                "messages": [{"role": "user", "content": "hello\n@@run echo ad-hoc"}]}, timeout=90)
    assert resp.status_code == 200, describe(resp)
    summary = resp.json()
    remember(summary["job_id"])
    assert summary["status"] == "completed" and "ad-hoc" in str(summary["tool_calls"]), summary
    assert admin.job(summary["job_id"])["spec"]["job_type"] == "claude_task"


def test_meeting_transcription_trigger(server, admin, org):
    alice, carol = org["alice"], org["carol"]
    notes = alice.create({"name": "Notes", "schedule_type": "post_meeting_transcription",
                          "tool_metadata": {"action_description": "Write meeting notes"}})
    off = alice.create({"name": "Off", "schedule_type": "post_meeting_transcription", "is_active": False,
                        "tool_metadata": {"action_description": "never"}})
    manual = alice.create({"name": "Manual", "tool_metadata": {"action_description": "not on meetings"}})
    carols = carol.create({"name": "Carol's", "schedule_type": "post_meeting_transcription",
                           "tool_metadata": {"action_description": "another organisation's"}})
    meeting = f"m-{tag()}"
    body = {"meeting_id": meeting, "title": "Planning", "transcript": "Alice: ship Friday.\nBob: agreed.",
            "ended_at": "2026-01-05T10:00:00Z"}
    resp = alice.post(MEETING, json=body)
    assert resp.status_code == 200, describe(resp)
    reply = resp.json()
    assert set(reply) == {"meeting_id", "runs"} and reply["meeting_id"] == meeting, reply
    assert [r["knap_uuid"] for r in reply["runs"]] == [notes["uuid"]], reply
    run = reply["runs"][0]
    assert set(run) == RUN_FIELDS and run["trigger"] == "meeting", run
    remember(run["job_id"])

    job = admin.wait_job(run["job_id"], timeout=90)
    assert job["status"] == "completed", job
    assert "ship Friday" in job["spec"]["prompt"] and "Write meeting notes" in job["spec"]["prompt"], job["spec"]
    runs = alice.runs(notes["uuid"])
    assert [(r["run_id"], r["job_id"], r["status"]) for r in runs] == [(run["run_id"], run["job_id"], "completed")]

    # The same event again (a retried webhook) starts nothing new.
    again = alice.post(MEETING, json=body)
    assert again.status_code == 200, describe(again)
    assert [(r["run_id"], r["job_id"]) for r in again.json()["runs"]] == [(run["run_id"], run["job_id"])], again.json()
    assert len(alice.runs(notes["uuid"])) == 1
    for knap in (off, manual):
        assert alice.runs(knap["uuid"]) == [], knap["name"]
    assert carol.runs(carols["uuid"]) == []

    # Another meeting is another run; an inactive knap made active takes part from then on.
    assert alice.patch(off["uuid"], {"is_active": True}).status_code == 200
    resp = alice.post(MEETING, json={**body, "meeting_id": meeting + "-2"})
    assert resp.status_code == 200, describe(resp)
    second = resp.json()["runs"]
    remember(*[r["job_id"] for r in second])
    assert sorted(r["knap_uuid"] for r in second) == sorted([notes["uuid"], off["uuid"]]), second
    assert run["run_id"] not in [r["run_id"] for r in second]
    for r in second:
        assert admin.wait_job(r["job_id"], timeout=90)["status"] == "completed"

    assert_detail(alice.post(MEETING, json={"meeting_id": "m"}), 400, "transcript")
    assert_detail(alice.post(MEETING, json={"meeting_id": "m", "transcript": "   "}), 400, "transcript")
    assert_detail(alice.post(MEETING, json={"transcript": "x"}), 400, "meeting_id")


# -- the per-client limit -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("how", ["flag", "env"])
def test_per_client_limit(own_server, how):
    limit = 3
    if how == "flag":
        srv = own_server("knaps-limit", knaps_rate_limit=limit)
    else:
        srv = own_server("knaps-limit-env", env={"KNIFY_KNAPS_RATE_LIMIT": str(limit)})
    # Windows are whole minutes: a run that straddles a boundary is repeated with fresh clients.
    for attempt in range(3):
        first, second = KnapsUser(srv, f"limited-{attempt}"), KnapsUser(srv, f"neighbour-{attempt}")
        replies = [first.get(KNAPS) for _ in range(limit + 1)]
        resets = {r.headers.get("X-RateLimit-Reset") for r in replies}
        if len(resets) == 1:
            break
    else:
        pytest.fail(f"four requests never fitted in one minute window: {resets}")
    for number, reply in enumerate(replies[:limit]):
        assert reply.status_code == 200, describe(reply)
        assert reply.headers["X-RateLimit-Limit"] == str(limit)
        assert reply.headers["X-RateLimit-Remaining"] == str(limit - 1 - number), reply.headers
    limited = replies[limit]
    assert_detail(limited, 429, "per minute")
    assert "Retry-After" in limited.headers, f"no Retry-After on {describe(limited)}"
    retry_after = int(limited.headers["Retry-After"])
    assert 1 <= retry_after <= 60, retry_after
    assert limited.headers["X-RateLimit-Remaining"] == "0"
    assert abs(int(limited.headers["X-RateLimit-Reset"]) - (datetime.now(timezone.utc).timestamp() + retry_after)) <= 3
    # Every Knaps operation counts against the same client; another client has its own window.
    assert_detail(first.post(KNAPS, json={"name": "n", "tool_metadata": {"action_description": "x"}}), 429)
    neighbour = second.get(KNAPS)
    assert neighbour.status_code == 200, describe(neighbour)
    assert neighbour.headers["X-RateLimit-Remaining"] == str(limit - 1)
    # The token endpoint is not behind the limit: the limited client can still get a token.
    assert form_token(srv.base_url, {"grant_type": "client_credentials",
                                     "client_id": first.credentials["client_id"],
                                     "client_secret": first.credentials["client_secret"]}).status_code == 200


# -- the scheduler ------------------------------------------------------------------------------------------------
def test_scheduler_fires_a_due_slot_once(own_server):
    srv = own_server("knaps-scheduler", scheduler_interval=1, knaps_rate_limit=BIG)
    user = KnapsUser(srv, "scheduled-user")
    # The next whole minute at least ten seconds away, as a daily time in UTC.
    slot = (datetime.now(timezone.utc) + timedelta(seconds=70)).replace(second=0, microsecond=0)
    description = f"daily at {slot:%H:%M}"
    knap = user.create({"name": "soon", "tool_metadata": {
        "action_description": "scheduled run\n@@run echo scheduled", "schedule_description": description}})
    asleep = user.create({"name": "inactive", "is_active": False, "tool_metadata": {
        "action_description": "never", "schedule_description": description}})
    assert parse_ts(knap["next_run_at"]) == slot, (knap["next_run_at"], slot)

    runs = wait_for(lambda: user.runs(knap["uuid"]), timeout=150, interval=0.5,
                    message=f"a scheduled run of the slot {slot.isoformat()}")
    assert len(runs) == 1, runs
    run = runs[0]
    assert run["trigger"] == "schedule" and parse_ts(run["slot_at"]) == slot, run
    # The slot was claimed: the next one is the same time tomorrow.
    assert parse_ts(user.show(knap["uuid"]).json()["next_run_at"]) == slot + timedelta(days=1)
    done = wait_for(lambda: [r for r in user.runs(knap["uuid"]) if r["status"] in TERMINAL], timeout=90,
                    interval=0.5, message="the scheduled run to finish")
    assert [r["status"] for r in done] == ["completed"], done
    assert len(user.runs(knap["uuid"])) == 1, "a slot fires once"
    assert user.runs(asleep["uuid"]) == [], "an inactive knap never fires"


# -- the operators' view --------------------------------------------------------------------------------------------
def test_sandbox_cli_lists_knaps_and_their_runs(server, org):
    """`knify-sandbox knaps ls|runs` read the server's store: every user's knaps, and a knap's runs with status."""
    alice = org["alice"]
    knap = alice.create({"name": f"cli-{tag()}", "visibility": org["name"], "timezone": "Asia/Kolkata",
                         "tool_metadata": {"action_description": "List it",
                                           "schedule_description": "every Monday at 9am"}})
    resp = alice.post(RUN, json={"knap_uuid": knap["uuid"], "stream_updates": False,
                                 "messages": [{"role": "user", "content": "hello from the CLI test"}]})
    assert resp.status_code == 200, describe(resp)
    run = resp.json()
    remember(run["job_id"])

    listed = json.loads(sandbox_cli("knaps", "ls", "--data-dir", str(server.data_dir), "--json").stdout)
    mine = [k for k in listed if k["uuid"] == knap["uuid"]]
    assert mine == [{"uuid": knap["uuid"], "name": knap["name"], "creation_user_id": alice.user,
                     "schedule_type": "scheduled", "is_active": True, "visibility": org["name"],
                     "next_run_at": knap["next_run_at"], "timezone": "Asia/Kolkata"}], mine

    runs = json.loads(sandbox_cli("knaps", "runs", knap["uuid"], "--data-dir", str(server.data_dir), "--json").stdout)
    assert [(r["run_id"], r["job_id"], r["trigger"], r["status"]) for r in runs] == \
        [(run["run_id"], run["job_id"], "api", run["status"])], runs

    table = sandbox_cli("knaps", "ls", "--data-dir", str(server.data_dir)).stdout
    assert table.splitlines()[0].split()[:3] == ["UUID", "NAME", "OWNER"], table
    assert knap["uuid"] in table
    missing = sandbox_cli("knaps", "runs", "00000000-0000-0000-0000-000000000000", "--data-dir", str(server.data_dir),
                          check=False)
    assert missing.returncode == 1 and "no knap" in missing.stderr, (missing.returncode, missing.stderr)
