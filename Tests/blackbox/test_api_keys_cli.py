"""`knify-sandbox api-key create|list|revoke` as operators use it, against the running server's data directory."""

import json

from knify_api import KEY_RE, parse_ts
from knify_server import list_keys, revoke_key, sandbox_cli

# The creation reply is the listing's object plus the key itself (shown this once).
CREATED_FIELDS = {"api_key", "key_id", "name", "prefix", "scopes", "workspace_id", "tier", "rate_limit_per_hour",
                  "created_at", "revoked_at"}
LISTED_FIELDS = {"key_id", "name", "prefix", "scopes", "workspace_id", "tier", "rate_limit_per_hour", "created_at",
                 "revoked_at"}


def test_create_prints_one_json_object(server):
    key = server.create_key("bb-cli-1", ["jobs:read", "jobs:write"])
    assert set(key) == CREATED_FIELDS, sorted(key)
    assert KEY_RE.match(key["api_key"]) and key["api_key"].startswith("knify_live_"), key["api_key"]
    assert key["name"] == "bb-cli-1"
    assert sorted(key["scopes"]) == ["jobs:read", "jobs:write"]
    assert key["workspace_id"] == "default"
    assert key["tier"] in ("free", "pro", "enterprise")
    parse_ts(key["created_at"])


def test_create_enterprise_with_rate_limit_and_test_mode(server):
    key = server.create_key("bb-cli-2", ["admin"], workspace="acme", tier="enterprise", rate_limit=5, test=True)
    assert key["api_key"].startswith("knify_test_") and KEY_RE.match(key["api_key"])
    assert key["tier"] == "enterprise" and key["rate_limit_per_hour"] == 5
    assert key["workspace_id"] == "acme" and key["scopes"] == ["admin"]


def test_list_never_shows_secrets(server):
    key = server.create_key("bb-cli-3", ["jobs:read"], workspace="listing", tier="pro")
    proc = sandbox_cli("api-key", "list", "--data-dir", str(server.data_dir), "--json")
    assert key["api_key"] not in proc.stdout
    assert key["api_key"][len("knify_live_"):] not in proc.stdout
    listed = json.loads(proc.stdout)
    assert isinstance(listed, list)
    entry = next(k for k in listed if k["key_id"] == key["key_id"])
    assert set(entry) == LISTED_FIELDS, sorted(entry)
    assert key["api_key"].startswith(entry["prefix"]) and len(entry["prefix"]) < len(key["api_key"]) - 16
    assert entry["name"] == "bb-cli-3" and entry["workspace_id"] == "listing" and entry["tier"] == "pro"
    assert entry["scopes"] == ["jobs:read"] and entry["revoked_at"] is None
    assert entry["created_at"] == key["created_at"]


def test_revoke(server):
    key = server.create_key("bb-cli-4", ["jobs:read"], workspace="rev", tier="pro")
    assert revoke_key(server.data_dir, key["key_id"]).returncode == 0
    entry = next(k for k in list_keys(server.data_dir) if k["key_id"] == key["key_id"])
    parse_ts(entry["revoked_at"])
    unknown = revoke_key(server.data_dir, "key_does_not_exist")
    assert unknown.returncode == 1, (unknown.returncode, unknown.stderr)


def test_refused_command_lines(server):
    data = ["--data-dir", str(server.data_dir)]
    for args in (["--name", "x", "--scopes", "jobs:delete"],                       # unknown scope
                 ["--name", "x", "--scopes", "jobs:read", "--tier", "gold"],        # unknown tier
                 ["--name", "x", "--scopes", "jobs:read", "--tier", "pro", "--rate-limit", "5"]):  # enterprise only
        proc = sandbox_cli("api-key", "create", *data, *args, "--json", check=False)
        assert proc.returncode != 0, f"api-key create {args} was accepted: {proc.stdout}"
