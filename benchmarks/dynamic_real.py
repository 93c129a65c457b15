"""How often `lossguard --dynamic` reaches a verdict on real loss code, per framework.

    .venv/bin/python benchmarks/dynamic_real.py [--mirrors /work/.mirror] [--out DIR]
        [--framework tf|torch] [--json RESULT.json]

The files are listed (repository, commit, path, framework) in `dynamic_real.json`. Each
repository's Python files at that commit are materialised from a local git mirror
(`MIRRORS/<owner>+<name>/repo`, bare or with `.git`, as the ecosystem check keeps them) into
a temporary folder, so that the listed files import their own packages; nothing third-party
is committed here. Then one `lossguard --select ALL --dynamic --format json` run over the
listed files, and per framework: how many findings got a verdict (confirmed, or not
reproduced with the numbers) and how many stayed "not checked", with the reasons.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent


def git_dir(mirrors: Path, repo: str) -> Path:
    base = mirrors / repo.replace("/", "+", 1) / "repo"
    return base / ".git" if (base / ".git").is_dir() else base


def materialise(entries: list[dict], mirrors: Path, dest: Path) -> list[Path]:
    """Write every `.py` file of each listed repository at its commit under `dest`."""
    done: set[tuple[str, str]] = set()
    for e in entries:
        key = (e["repo"], e["commit"])
        if key in done:
            continue
        done.add(key)
        gd = git_dir(mirrors, e["repo"])
        tree = subprocess.run(["git", "--git-dir", str(gd), "ls-tree", "-r", "-z", e["commit"]],
                              capture_output=True, check=True).stdout.decode()
        blobs = []
        for item in tree.split("\0"):
            if not item:
                continue
            meta, path = item.split("\t", 1)
            if path.endswith(".py") and meta.split()[1] == "blob":
                blobs.append((meta.split()[2], path))
        batch = subprocess.run(["git", "--git-dir", str(gd), "cat-file", "--batch"],
                               input="".join(f"{sha}\n" for sha, _ in blobs).encode(),
                               capture_output=True, check=True).stdout
        pos = 0
        root = dest / e["repo"].replace("/", "+", 1)
        for _, path in blobs:
            header_end = batch.index(b"\n", pos)
            header = batch[pos:header_end].split()
            pos = header_end + 1
            if header[-1] == b"missing":
                continue
            size = int(header[2])
            out = root / path
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_bytes(batch[pos:pos + size])
            pos += size + 1
    return [dest / e["repo"].replace("/", "+", 1) / e["path"] for e in entries]


def summarise(findings: list[dict], framework_of: dict[str, str]) -> dict:
    out: dict = {}
    for fw in sorted(set(framework_of.values())):
        mine = [f for f in findings if framework_of.get(os.path.abspath(f["path"])) == fw]
        status = collections.Counter(f.get("dynamic", {}).get("status", "none") for f in mine)
        reasons = collections.Counter(
            (f.get("dynamic") or {}).get("reason", "")[:90] for f in mine
            if (f.get("dynamic") or {}).get("status") == "not_checked")
        verdicts = status["confirmed"] + status["not_reproduced"]
        out[fw] = {"files": sum(1 for v in framework_of.values() if v == fw),
                   "findings": len(mine), "confirmed": status["confirmed"],
                   "not_reproduced": status["not_reproduced"],
                   "not_checked": status["not_checked"],
                   "verdict_fraction": round(verdicts / len(mine), 3) if mine else None,
                   "not_checked_reasons": reasons.most_common(12)}
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mirrors", default=os.environ.get("LOSSGUARD_MIRRORS", "/work/.mirror"))
    ap.add_argument("--list", default=str(HERE / "dynamic_real.json"))
    ap.add_argument("--out", help="materialise here (default: a temporary folder)")
    ap.add_argument("--framework", choices=["tf", "torch"], help="only this framework's files")
    ap.add_argument("--json", help="also write the summary and every finding here")
    ap.add_argument("--lossguard", default=str(Path(sys.executable).parent / "lossguard"))
    args = ap.parse_args(argv)
    entries = json.loads(Path(args.list).read_text())
    if args.framework:
        entries = [e for e in entries if e["framework"] == args.framework]
    with tempfile.TemporaryDirectory(prefix="lossguard-real-") as tmp:
        dest = Path(args.out or tmp)
        files = materialise(entries, Path(args.mirrors), dest)
        framework_of = {os.path.abspath(p): e["framework"]
                        for p, e in zip(files, entries, strict=True)}
        proc = subprocess.run([args.lossguard, "--select", "ALL", "--dynamic", "--format", "json",
                               *map(str, files)], capture_output=True, text=True, cwd=dest)
        if proc.returncode not in (0, 1):
            print(proc.stderr[-3000:], file=sys.stderr)
            return 2
        data = json.loads(proc.stdout)
        findings = data if isinstance(data, list) else data["findings"]
        summary = summarise(findings, framework_of)
        for f in findings:
            f["path"] = os.path.relpath(f["path"], dest)
    for fw, s in summary.items():
        print(f"{fw}: {s['files']} files, {s['findings']} findings: {s['confirmed']} confirmed, "
              f"{s['not_reproduced']} not reproduced, {s['not_checked']} not checked "
              f"(verdict {s['verdict_fraction']:.0%})")
        for reason, n in s["not_checked_reasons"]:
            print(f"    {n:3d}  {reason}")
    if args.json:
        Path(args.json).write_text(json.dumps({"summary": summary, "findings": findings},
                                              indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
