"""Regenerate docs/rules.md and the README's rules table from the rule classes.

    python scripts/generate_docs.py          # write
    python scripts/generate_docs.py --check  # exit 1 when either is stale
"""

from __future__ import annotations

import sys
from pathlib import Path

from lossguard.rules import all_rules

from lossguard.report.docs import rules_document, with_table

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str]) -> int:
    rules = all_rules()
    targets = {
        ROOT / "docs" / "rules.md": rules_document(rules),
        ROOT / "README.md": with_table((ROOT / "README.md").read_text(encoding="utf-8"), rules),
    }
    stale = [p for p, text in targets.items()
             if not p.exists() or p.read_text(encoding="utf-8") != text]
    if "--check" in argv:
        for path in stale:
            print(f"{path.relative_to(ROOT)} is stale: run python scripts/generate_docs.py")
        return 1 if stale else 0
    for path in stale:
        path.write_text(targets[path], encoding="utf-8")
        print(f"wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
