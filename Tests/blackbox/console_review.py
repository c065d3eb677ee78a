"""Which version of the web console a person last looked at in screenshots.

`test_console.py` saves screenshots of every console view (laptop and phone) under .knify/blackbox/screenshots/ and
then compares a hash of the console's files (Sources/KnifyServer/Console/*) with the one recorded in
console_screenshots_reviewed.txt: a console that changed since its screenshots were last looked at fails that test.

    python3 Tests/blackbox/console_review.py            # is the recorded review for the current console?
    python3 Tests/blackbox/console_review.py --record "what you saw"   # after looking at the screenshots
"""

from __future__ import annotations

import hashlib
import sys
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parents[1]
CONSOLE = REPO_ROOT / "Sources" / "KnifyServer" / "Console"
RECORD = HERE / "console_screenshots_reviewed.txt"
SCREENSHOTS = REPO_ROOT / ".knify" / "blackbox" / "screenshots"


def console_hash() -> str:
    """SHA-256 over the console's files, by name (any change to any file changes it)."""
    digest = hashlib.sha256()
    for path in sorted(p for p in CONSOLE.iterdir() if p.is_file() and not p.name.startswith(".")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def recorded_hash() -> str | None:
    if not RECORD.exists():
        return None
    for line in RECORD.read_text().splitlines():
        if line.startswith("sha256 "):
            return line.split()[1]
    return None


def record(note: str) -> None:
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    RECORD.write_text(
        "# The console (Sources/KnifyServer/Console/*) whose screenshots (.knify/blackbox/screenshots/, made by\n"
        "# test_console.py) were last looked at. test_console.py fails while the console differs from this one:\n"
        "# look at the screenshots, then run `python3 Tests/blackbox/console_review.py --record \"what you saw\"`.\n"
        f"sha256 {console_hash()}\n"
        f"reviewed {stamp}: {note.strip() or 'looked at every screenshot'}\n")


if __name__ == "__main__":
    if len(sys.argv) >= 2 and sys.argv[1] == "--record":
        record(" ".join(sys.argv[2:]))
        print(f"recorded console {console_hash()[:12]} as reviewed in {RECORD}")
        sys.exit(0)
    current, seen = console_hash(), recorded_hash()
    print(f"console {current[:12]}; last reviewed {seen[:12] if seen else 'never'}; screenshots in {SCREENSHOTS}")
    sys.exit(0 if current == seen else 1)
