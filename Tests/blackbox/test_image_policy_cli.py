"""`knify-sandbox image` and `policy lint|show`: shapes and exit codes."""

import json

from knify_server import sandbox_cli


def test_image_build_is_idempotent_and_ls_lists_it():
    built = sandbox_cli("image", "build")
    assert "knify/sandbox:local" in built.stdout
    images = json.loads(sandbox_cli("image", "ls", "--json").stdout)
    assert any(i["id"].startswith("sha256:") for i in images), images


def test_policy_lint_names_file_and_field(tmp_path):
    ok = json.loads(sandbox_cli("policy", "lint", "--json", "Policies/default.json", "Policies/strict.json").stdout)
    assert [r["valid"] for r in ok] == [True, True]
    bad = tmp_path / "bad.json"
    bad.write_text('{"seccomp": "x", "memory": "lots"}')
    proc = sandbox_cli("policy", "lint", "--json", str(bad), check=False)
    assert proc.returncode == 1
    [row] = json.loads(proc.stdout)
    assert row["valid"] is False and row["file"] == str(bad) and row["field"], row


def test_policy_show_prints_the_effective_settings_and_compiled_filter():
    shown = sandbox_cli("policy", "show", "default").stdout
    assert shown.splitlines()[0].split()[:2] == ["policy", "default"]
    assert "compiled filter" in shown
    assert sandbox_cli("policy", "show", "no-such-policy", check=False).returncode != 0
