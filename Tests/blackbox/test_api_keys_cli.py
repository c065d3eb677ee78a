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


def test_knaps_clients_create_list_revoke(server):
    made = json.loads(sandbox_cli("client", "create", "--name", "zap", "--user", "u_42", "--org", "acme", "--org-admin",
                                  "--json", "--data-dir", str(server.data_dir)).stdout)
    assert {"client_id", "client_secret"} <= set(made)
    assert made["client_id"].startswith("knc_") and made["client_secret"].startswith("kncs_")
    assert (made["user_id"], made["org"], made["org_admin"]) == ("u_42", "acme", True)
    listed = json.loads(sandbox_cli("client", "list", "--json", "--data-dir", str(server.data_dir)).stdout)
    mine = [c for c in listed if c["client_id"] == made["client_id"]]
    assert len(mine) == 1 and "client_secret" not in mine[0] and mine[0]["revoked_at"] is None
    assert made["client_secret"] not in json.dumps(listed)
    sandbox_cli("client", "revoke", made["client_id"], "--data-dir", str(server.data_dir))
    listed = json.loads(sandbox_cli("client", "list", "--json", "--data-dir", str(server.data_dir)).stdout)
    assert [c for c in listed if c["client_id"] == made["client_id"]][0]["revoked_at"] is not None
    assert sandbox_cli("client", "revoke", "knc_unknown", "--data-dir", str(server.data_dir), check=False).returncode == 1
    assert sandbox_cli("client", "create", "--name", "x", "--user", "u", "--org-admin", check=False).returncode == 64
