#!/usr/bin/env python3
"""Ecosystem check: lint pinned public repositories and compare with a judged snapshot.

The repositories are pinned in `ecosystem/repos.json` (name, commit, framework, optional
include/exclude globs). Their sources are never committed here: each one is materialised from a
local git mirror (see `--mirrors`) into a git-ignored work folder, linted with `lossguard
--format json`, and the findings are compared with `ecosystem/snapshot.json`, a list of judged
findings (verdict TP, FP or unsure, with a one-line reason), keyed by (repo, path, line, code)
(and the cell, for notebooks). The snapshot keeps history: a judged finding that no longer
appears stays in it and is reported as vanished (a vanished FP is a fix, a vanished TP a
regression). `ecosystem/misses.json` lists judged hazards the linter should flag; they give the
recall.

Typical use:

    python scripts/ecosystem.py                        # lint all, compare, exit 1 on new ones
    python scripts/ecosystem.py --repo tensorflow/gan  # only some repositories
    python scripts/ecosystem.py --pending pending.json # also write the unjudged ones to judge
    python scripts/ecosystem.py --merge pending.json   # fold the judged ones into the snapshot
    python scripts/ecosystem.py --files                # only count the files each pin selects

Globs (include/exclude): relative to the repository root, `/`-separated; `*` and `?` stay
within one path segment, `**` spans any number of segments (also none). A glob without `/`
matches the file name at any depth (`*loss*.py`). Only .py and .ipynb files are taken.

Exit status: 0 when every current finding is judged, 1 when an unjudged finding appears,
2 on a usage error, when no repository could be linted, or when lossguard failed on a
repository or on some of its files (the findings of the other files are still compared).
Missing mirrors, and files a mirror lacks (blobs of 4 MiB and more may be absent), are
reported and skipped.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
ECOSYSTEM = ROOT / "ecosystem"
REPOS_FILE = ECOSYSTEM / "repos.json"
SNAPSHOT_FILE = ECOSYSTEM / "snapshot.json"
MISSES_FILE = ECOSYSTEM / "misses.json"
DEFAULT_MIRRORS = "/work/.mirror"
DEFAULT_WORK = ROOT / ".ecosystem"
SUFFIXES = (".py", ".ipynb")
VERDICTS = ("TP", "FP", "unsure")
ENTRY_KEYS = ("repo", "commit", "path", "cell", "line", "code", "verdict", "reason")
MISS_SLACK = 2  # a finding this many lines from a miss's line still finds it (same statement)
CONTEXT = 3  # lines of source either side in a pending entry
MARKER = ".ecosystem-materialised.json"

Key = tuple[str, str, int | None, int, str]  # repo, path, cell, line, code


# --------------------------------------------------------------------------- pins and globs


@dataclass
class Pin:
    repo: str
    commit: str
    framework: str
    include: list[str] = field(default_factory=list)
    exclude: list[str] = field(default_factory=list)

    @property
    def slug(self) -> str:
        return self.repo.replace("/", "+")


def load_pins(path: Path) -> list[Pin]:
    data = json.loads(path.read_text(encoding="utf-8"))
    pins = []
    for item in data:
        commit = str(item["commit"])
        if not re.fullmatch(r"[0-9a-f]{40}", commit):
            raise SystemExit(f"{path}: {item['repo']}: commit must be 40 hex digits")
        if item.get("framework") not in ("tf", "torch", "jax", "mixed"):
            raise SystemExit(f"{path}: {item['repo']}: framework must be tf, torch, jax or mixed")
        pins.append(Pin(item["repo"], commit, item["framework"],
                        list(item.get("include", [])), list(item.get("exclude", []))))
    return pins


def glob_regex(pattern: str) -> re.Pattern[str]:
    """A compiled regex for one glob (see the module docstring)."""
    pattern = pattern.strip("/")
    if "/" not in pattern:
        pattern = "**/" + pattern
    out = []
    parts = pattern.split("/")
    for index, part in enumerate(parts):
        last = index == len(parts) - 1
        if part == "**":
            out.append(".*" if last else "(?:[^/]+/)*")
            continue
        i = 0
        text = ""
        while i < len(part):
            char = part[i]
            if char == "*":
                text += "[^/]*"
            elif char == "?":
                text += "[^/]"
            elif char == "[":
                end = part.find("]", i + 2 if part[i + 1: i + 2] in ("!", "]") else i + 1)
                if end == -1:
                    text += re.escape(char)
                else:
                    body = part[i + 1: end]
                    if body.startswith("!"):
                        body = "^" + body[1:]
                    text += f"[{body}]"
                    i = end
            else:
                text += re.escape(char)
            i += 1
        out.append(text if last else text + "/")
    return re.compile("".join(out) + r"\Z")


def selector(pin: Pin) -> Callable[[str], bool]:
    """A predicate on repo-relative paths: does the pin select this file?"""
    include = [glob_regex(g) for g in pin.include]
    exclude = [glob_regex(g) for g in pin.exclude]

    def wanted(path: str) -> bool:
        if not path.endswith(SUFFIXES):
            return False
        if include and not any(r.match(path) for r in include):
            return False
        return not any(r.match(path) for r in exclude)

    return wanted


# --------------------------------------------------------------------------- mirrors


def find_git_dir(mirrors: Path, repo: str) -> Path | None:
    """The git directory of `repo` under `mirrors` (owner+name/<something>, bare or not)."""
    base = mirrors / repo.replace("/", "+")
    if not base.is_dir():
        return None
    candidates = [base, *sorted(base.glob("*")), *sorted(base.glob("*/.git")),
                  *sorted(base.glob("*/*"))]
    for candidate in candidates:
        if (candidate / "HEAD").is_file() and (candidate / "objects").is_dir():
            return candidate
    return None


def git(git_dir: Path, *args: str, data: bytes | None = None) -> bytes:
    result = subprocess.run(["git", f"--git-dir={git_dir}", *args], input=data,
                            capture_output=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)}: {result.stderr.decode(errors='replace')}")
    return result.stdout


def has_commit(git_dir: Path, commit: str) -> bool:
    result = subprocess.run(["git", f"--git-dir={git_dir}", "cat-file", "-e",
                             f"{commit}^{{commit}}"], capture_output=True, check=False)
    return result.returncode == 0


def selected_blobs(git_dir: Path, pin: Pin) -> list[tuple[str, str]]:
    """(path, blob sha) of the regular files of the pinned commit that the pin selects."""
    wanted = selector(pin)
    out = []
    for record in git(git_dir, "ls-tree", "-r", "-z", "--full-tree", pin.commit).split(b"\0"):
        if not record:
            continue
        meta, _, raw_path = record.partition(b"\t")
        mode, kind, sha = meta.decode().split()
        path = raw_path.decode("utf-8", errors="surrogateescape")
        if kind == "blob" and mode in ("100644", "100755") and wanted(path):
            out.append((path, sha))
    return sorted(out)


def selection_digest(blobs: list[tuple[str, str]]) -> str:
    digest = hashlib.sha256()
    for path, sha in blobs:
        digest.update(f"{path}\0{sha}\n".encode("utf-8", errors="surrogateescape"))
    return digest.hexdigest()


def safe_relative(path: str) -> bool:
    parts = path.split("/")
    return not path.startswith("/") and ".." not in parts and "" not in parts


def materialise(git_dir: Path, pin: Pin, folder: Path) -> tuple[int, list[str], bool]:
    """Write the selected files into `folder`; reuse it when it holds the same selection.
    Returns (files written, selected files the mirror lacks, reused)."""
    blobs = [(p, s) for p, s in selected_blobs(git_dir, pin) if safe_relative(p)]
    digest = selection_digest(blobs)
    marker = folder / MARKER
    try:
        old = json.loads(marker.read_text(encoding="utf-8"))
        if old.get("commit") == pin.commit and old.get("selection") == digest:
            return int(old["files"]), list(old.get("absent", [])), True
    except (OSError, ValueError):
        pass
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    absent: list[str] = []
    if blobs:
        batch = "".join(f"{sha}\n" for _, sha in blobs).encode()
        stream = git(git_dir, "cat-file", "--batch", data=batch)
        offset = 0
        for path, sha in blobs:
            newline = stream.index(b"\n", offset)
            header = stream[offset:newline].decode().split()
            if header[0] != sha:
                raise RuntimeError(f"{pin.repo}: unexpected object for {path}: {header}")
            if header[1] == "missing":  # a mirror may lack big blobs (or LFS content)
                absent.append(path)
                offset = newline + 1
                continue
            size = int(header[2])
            start = newline + 1
            target = folder / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(stream[start: start + size])
            offset = start + size + 1
    count = len(blobs) - len(absent)
    marker.write_text(json.dumps({"repo": pin.repo, "commit": pin.commit, "selection": digest,
                                  "files": count, "absent": absent}, indent=1) + "\n",
                      encoding="utf-8")
    return count, absent, False


# --------------------------------------------------------------------------- linting


def default_cmd() -> list[str]:
    beside = Path(sys.executable).parent / "lossguard"
    if beside.is_file():
        return [str(beside)]
    found = shutil.which("lossguard")
    if found:
        return [found]
    venv = ROOT / ".venv" / "bin" / "lossguard"
    if venv.is_file():
        return [str(venv)]
    raise SystemExit("lossguard not found next to the Python running this script nor on PATH; "
                     "pass --cmd")


def key_of(item: dict[str, Any]) -> Key:
    cell = item.get("cell")
    return (item["repo"], item["path"], int(cell) if cell is not None else None,
            int(item["line"]), item["code"])


INTERNAL_ERROR = re.compile(r"^lossguard: (?P<path>.+?): internal error: (?P<what>.*)$")


def lint(cmd: list[str], folder: Path, config: Path, jobs: int | None,
         timeout: float) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """Findings (paths relative to `folder`) and the files lossguard failed on (path: error).
    Raises RuntimeError when there is no usable output at all."""
    args = [*cmd, "--format", "json", "--no-cache", "--config", str(config)]
    if jobs:
        args += ["--jobs", str(jobs)]
    result = subprocess.run([*args, "."], cwd=folder, capture_output=True, text=True,
                            timeout=timeout, check=False)
    failed = {}
    for line in result.stderr.splitlines():
        match = INTERNAL_ERROR.match(line)
        if match:
            failed[relative(match["path"], folder)] = match["what"]
    try:
        findings = json.loads(result.stdout or "[]")
    except ValueError:
        findings = None
    if result.returncode not in (0, 1) and (findings is None or not failed):
        raise RuntimeError(f"lossguard exited {result.returncode}: "
                           f"{result.stderr.strip()[-2000:]}")
    if findings is None:
        raise RuntimeError(f"lossguard printed no JSON: {result.stdout[:500]}")
    for finding in findings:
        finding["path"] = relative(finding["path"], folder)
    return findings, failed


def relative(raw: str, folder: Path) -> str:
    path = Path(raw)
    if path.is_absolute():
        for base in (folder.resolve(), folder.absolute()):
            if path.is_relative_to(base):
                path = path.relative_to(base)
                break
    return path.as_posix().removeprefix("./")


# --------------------------------------------------------------------------- sources


class Sources:
    """Lines of the materialised files (notebooks: by cell, numbered from 1 among all the
    cells, markdown included, as lossguard reports them)."""

    def __init__(self, work: Path) -> None:
        self.work = work
        self.cache: dict[tuple[str, str], Any] = {}

    def lines(self, repo: str, path: str, cell: int | None) -> list[str]:
        cache_key = (repo, path)
        if cache_key not in self.cache:
            file = self.work / repo.replace("/", "+") / path
            try:
                text = file.read_text(encoding="utf-8", errors="replace")
            except OSError:
                text = ""
            if path.endswith(".ipynb"):
                try:
                    cells = [c if isinstance(c, dict) else {}
                             for c in json.loads(text).get("cells", [])]
                except (ValueError, AttributeError):
                    cells = []
                sources = []
                for c in cells:
                    source = c.get("source", "")
                    sources.append(("".join(source) if isinstance(source, list)
                                    else str(source)).splitlines())
                self.cache[cache_key] = sources
            else:
                self.cache[cache_key] = text.splitlines()
        value = self.cache[cache_key]
        if path.endswith(".ipynb"):
            return value[cell - 1] if cell and 0 < cell <= len(value) else []
        return value

    def line(self, repo: str, path: str, cell: int | None, line: int) -> str:
        lines = self.lines(repo, path, cell)
        return lines[line - 1] if 0 < line <= len(lines) else ""

    def context(self, repo: str, path: str, cell: int | None, line: int) -> list[str]:
        lines = self.lines(repo, path, cell)
        low, high = max(1, line - CONTEXT), min(len(lines), line + CONTEXT)
        return [f"{n:>5}{'>' if n == line else ' '}| {lines[n - 1]}" for n in range(low, high + 1)]


# --------------------------------------------------------------------------- snapshot files


def read_list(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, list):
        raise SystemExit(f"{path}: expected a JSON list")
    return data


def write_list(path: Path, items: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(items, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def entry_sort_key(item: dict[str, Any]) -> tuple:
    cell = item.get("cell")
    return (item["repo"], item["path"], cell if cell is not None else -1, int(item["line"]),
            item["code"])


def clean_entry(item: dict[str, Any]) -> dict[str, Any]:
    entry = {k: item[k] for k in ENTRY_KEYS if k in item and item[k] is not None}
    entry["line"] = int(entry["line"])
    entry["reason"] = " ".join(str(entry.get("reason", "")).split())
    return entry


def merge(pending_file: Path, snapshot_file: Path) -> int:
    pending = read_list(pending_file)
    snapshot = {key_of(e): e for e in read_list(snapshot_file)}
    added = replaced = skipped = 0
    for item in pending:
        verdict = item.get("verdict")
        if verdict is None:
            skipped += 1
            continue
        if verdict not in VERDICTS:
            raise SystemExit(f"{pending_file}: {item.get('repo')} {item.get('path')}:"
                             f"{item.get('line')}: verdict must be one of {', '.join(VERDICTS)}")
        entry = clean_entry(item)
        if not entry["reason"]:
            print(f"warning: no reason for {entry['repo']} {entry['path']}:{entry['line']} "
                  f"{entry['code']}", file=sys.stderr)
        key = key_of(entry)
        if key in snapshot:
            replaced += 1
        else:
            added += 1
        snapshot[key] = entry
    write_list(snapshot_file, sorted(snapshot.values(), key=entry_sort_key))
    print(f"{snapshot_file}: {added} added, {replaced} replaced, {skipped} left unjudged; "
          f"{len(snapshot)} entries")
    return 0


# --------------------------------------------------------------------------- the run


@dataclass
class RepoRun:
    pin: Pin
    status: str = "ok"  # ok, partial (lossguard failed on some files), missing, error
    detail: str = ""
    files: int = 0
    absent: list[str] = field(default_factory=list)  # selected, but not in the mirror
    failed: dict[str, str] = field(default_factory=dict)  # files lossguard failed on
    reused: bool = False
    seconds: float = 0.0
    findings: list[dict[str, Any]] = field(default_factory=list)


def run_repos(pins: list[Pin], mirrors: Path, work: Path, cmd: list[str], jobs: int | None,
              timeout: float) -> list[RepoRun]:
    work.mkdir(parents=True, exist_ok=True)
    config = work / "lossguard-defaults.toml"  # pins the settings to lossguard's defaults
    config.write_text("# empty: lossguard's default settings\n", encoding="utf-8")
    runs = []
    for pin in pins:
        run = RepoRun(pin)
        runs.append(run)
        git_dir = find_git_dir(mirrors, pin.repo)
        if git_dir is None:
            run.status, run.detail = "missing", f"no mirror under {mirrors / pin.slug}"
        elif not has_commit(git_dir, pin.commit):
            head = git(git_dir, "rev-parse", "HEAD").decode().strip()
            run.status, run.detail = "missing", (f"mirror {git_dir} lacks commit {pin.commit} "
                                                 f"(its HEAD is {head})")
        if run.status == "missing":
            print(f"MISSING {pin.repo}: {run.detail}; fetch it (e.g. the fetch tool with "
                  f"github:{pin.repo}, or `git clone --bare https://github.com/{pin.repo} "
                  f"{mirrors / pin.slug / 'repo'}`); skipped", file=sys.stderr)
            continue
        start = time.monotonic()
        folder = work / pin.slug
        try:
            run.files, run.absent, run.reused = materialise(git_dir, pin, folder)
            if run.files:
                run.findings, run.failed = lint(cmd, folder, config, jobs, timeout)
            if run.failed:
                run.status = "partial"
                run.detail = f"lossguard failed on {len(run.failed)} files"
                for path, what in sorted(run.failed.items()):
                    print(f"LOSSGUARD ERROR {pin.repo} {path}: {what}", file=sys.stderr)
        except (RuntimeError, OSError, subprocess.TimeoutExpired) as error:
            run.status, run.detail = "error", str(error)
            print(f"ERROR {pin.repo}: {error}", file=sys.stderr)
        run.seconds = time.monotonic() - start
        for finding in run.findings:
            finding["repo"], finding["commit"] = pin.repo, pin.commit
        notes = [note for note, on in (("reused", run.reused),
                                       (f"{len(run.absent)} not in the mirror", run.absent),
                                       (f"{len(run.failed)} failed", run.failed)) if on]
        print(f"  linted {pin.repo}: {run.files} files"
              f"{' (' + ', '.join(notes) + ')' if notes else ''}, "
              f"{len(run.findings)} findings, {run.seconds:.1f}s", file=sys.stderr)
    return runs


def where(item: dict[str, Any]) -> str:
    cell = item.get("cell")
    return f"{item['repo']} {item['path']}:{f'cell {cell}:' if cell is not None else ''}" \
           f"{item['line']}"


def ratio(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


def percent(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"


def report(runs: list[RepoRun], snapshot: list[dict[str, Any]], misses: list[dict[str, Any]],
           sources: Sources) -> dict[str, Any]:
    judged = {key_of(e): e for e in snapshot}
    linted = {r.pin.repo for r in runs if r.status in ("ok", "partial")}
    unchecked = {(r.pin.repo, p) for r in runs for p in [*r.failed, *r.absent]}
    current: dict[Key, dict[str, Any]] = {}
    for run in runs:
        for finding in run.findings:
            current.setdefault(key_of(finding), finding)  # same place twice: one finding
    for key, finding in current.items():
        entry = judged.get(key)
        finding["verdict"] = entry["verdict"] if entry else None
        finding["reason"] = entry.get("reason", "") if entry else ""

    width = max([len("repository"), *(len(r.pin.repo) + len(r.status) + 3 for r in runs)])
    print(f"\n{'repository':<{width}} {'files':>6} {'find':>5} {'TP':>4} {'FP':>4} {'?':>4} "
          f"{'new':>4} {'secs':>6}")
    per_repo: dict[str, dict[str, Any]] = {}
    for run in runs:
        mine = [f for k, f in current.items() if k[0] == run.pin.repo]
        counts = Counter(f["verdict"] for f in mine)
        per_repo[run.pin.repo] = {
            "commit": run.pin.commit, "framework": run.pin.framework, "status": run.status,
            "detail": run.detail, "files": run.files, "absent": run.absent,
            "failed": run.failed, "seconds": round(run.seconds, 2),
            "findings": len(mine), "TP": counts["TP"], "FP": counts["FP"],
            "unsure": counts["unsure"], "new": counts[None],
            "by_code": dict(sorted(Counter(f["code"] for f in mine).items())),
        }
        label = run.pin.repo if run.status == "ok" else f"{run.pin.repo} [{run.status}]"
        print(f"{label:<{width}} {run.files:>6} {len(mine):>5} {counts['TP']:>4} {counts['FP']:>4} "
              f"{counts['unsure']:>4} {counts[None]:>4} {run.seconds:>6.1f}")

    counts = Counter(f["verdict"] for f in current.values())
    tp, fp, unsure, new = counts["TP"], counts["FP"], counts["unsure"], counts[None]
    vanished = [e for k, e in judged.items()
                if k[0] in linted and k not in current and (k[0], k[1]) not in unchecked]
    vanished.sort(key=entry_sort_key)
    vanished_tp = [e for e in vanished if e["verdict"] == "TP"]

    miss_rows = []
    found = covered = 0
    for miss in misses:
        if miss["repo"] not in linted or (miss["repo"], miss["path"]) in unchecked:
            continue
        cell = miss.get("cell")
        hits = [f for f in current.values()
                if f["repo"] == miss["repo"] and f["path"] == miss["path"]
                and f["code"] == miss["code"] and f.get("cell") == cell
                and abs(int(f["line"]) - int(miss["line"])) <= MISS_SLACK]
        state = "missed"
        if any(h["verdict"] == "TP" for h in hits):
            state, covered = "covered by a TP finding", covered + 1
        elif hits:
            state, found = "found", found + 1
        miss_rows.append((miss, state))
    missed = [m for m, state in miss_rows if state == "missed"]
    detected = tp + found
    hazards = tp + len(vanished_tp) + found + len(missed)

    by_code: dict[str, Counter] = {}
    for finding in current.values():
        by_code.setdefault(finding["code"], Counter())[finding["verdict"]] += 1

    metrics = {
        "repositories": len(runs), "linted": len(linted),
        "missing": [r.pin.repo for r in runs if r.status == "missing"],
        "errors": [r.pin.repo for r in runs if r.status == "error"],
        "partial": [r.pin.repo for r in runs if r.status == "partial"],
        "failed_files": sum(len(r.failed) for r in runs),
        "files": sum(r.files for r in runs), "findings": len(current),
        "TP": tp, "FP": fp, "unsure": unsure, "unjudged": new,
        "precision": ratio(tp, tp + fp),
        "misses": len(miss_rows), "misses_found": found, "misses_covered_by_tp": covered,
        "misses_missed": len(missed), "vanished_tp": len(vanished_tp),
        "vanished_fp": sum(e["verdict"] == "FP" for e in vanished),
        "vanished_unsure": sum(e["verdict"] == "unsure" for e in vanished),
        "recall": ratio(detected, hazards),
        "by_code": {code: {"findings": sum(c.values()), "TP": c["TP"], "FP": c["FP"],
                           "unsure": c["unsure"], "unjudged": c[None]}
                    for code, c in sorted(by_code.items())},
    }

    print(f"\n{'code':<8} {'find':>5} {'TP':>4} {'FP':>4} {'?':>4} {'new':>4} {'precision':>9}")
    for code, c in sorted(by_code.items()):
        print(f"{code:<8} {sum(c.values()):>5} {c['TP']:>4} {c['FP']:>4} {c['unsure']:>4} "
              f"{c[None]:>4} {percent(ratio(c['TP'], c['TP'] + c['FP'])):>9}")

    print(f"\noverall: {len(linted)}/{len(runs)} repositories, {metrics['files']} files, "
          f"{len(current)} findings: {tp} TP, {fp} FP, {unsure} unsure, {new} unjudged")
    print(f"precision TP/(TP+FP): {percent(metrics['precision'])}")
    print(f"recall (TP + misses found)/(TP + vanished TP + all misses): "
          f"{percent(metrics['recall'])} ({detected}/{hazards}; {found} of {len(miss_rows)} "
          f"misses found, {covered} covered by TP findings)")
    for label in ("missing", "errors", "partial"):
        if metrics[label]:
            print(f"{label}: {', '.join(metrics[label])}")

    if new:
        print(f"\nNEW (unjudged) findings: {new}")
        for key, finding in sorted(current.items(), key=lambda kv: entry_sort_key(kv[1])):
            if finding["verdict"] is None:
                print(f"  {where(finding)}:{finding['column']} {finding['code']} "
                      f"{finding['message']}")
                source = sources.line(key[0], key[1], key[2], key[3]).strip()
                if source:
                    print(f"      | {source}")
    if vanished:
        print(f"\nVANISHED judged findings: {len(vanished)}")
        for entry in vanished:
            meaning = {"FP": "fixed FP", "TP": "REGRESSION (TP lost)",
                       "unsure": "unsure gone"}[entry["verdict"]]
            print(f"  {where(entry)} {entry['code']} [{meaning}] {entry.get('reason', '')}")
    if missed:
        print(f"\nSTILL MISSED: {len(missed)}")
        for miss in missed:
            print(f"  {where(miss)} {miss['code']} {miss.get('reason', '')}")
    return {"repos": per_repo, "metrics": metrics,
            "findings": sorted(current.values(), key=entry_sort_key),
            "vanished": vanished,
            "misses": [{**m, "state": state} for m, state in miss_rows]}


def write_pending(path: Path, findings: list[dict[str, Any]], sources: Sources) -> int:
    pending = []
    for finding in findings:
        if finding["verdict"] is not None:
            continue
        cell = finding.get("cell")
        item: dict[str, Any] = {"repo": finding["repo"], "commit": finding["commit"],
                                "path": finding["path"]}
        if cell is not None:
            item["cell"] = cell
        item.update({
            "line": finding["line"], "code": finding["code"], "verdict": None, "reason": "",
            # for the judge only; dropped by --merge
            "column": finding["column"], "name": finding["name"],
            "severity": finding["severity"], "function": finding.get("function"),
            "message": finding["message"], "hint": finding.get("hint", ""),
            "context": sources.context(finding["repo"], finding["path"], cell, finding["line"]),
        })
        pending.append(item)
    write_list(path, pending)
    print(f"\nwrote {len(pending)} unjudged findings to {path}")
    return len(pending)


# --------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mirrors", type=Path,
                        default=Path(os.environ.get("LOSSGUARD_MIRRORS", DEFAULT_MIRRORS)),
                        help="folder of git mirrors, one per owner+name "
                             "(default: $LOSSGUARD_MIRRORS or %(default)s)")
    parser.add_argument("--work", type=Path, default=DEFAULT_WORK,
                        help="folder the repositories are materialised in (default: %(default)s)")
    parser.add_argument("--cmd", help="lossguard command line (default: the lossguard next to "
                                      "this Python, else on PATH)")
    parser.add_argument("--repo", action="append", default=[], metavar="NAME",
                        help="only this repository (owner/name; repeatable)")
    parser.add_argument("--jobs", type=int, help="passed to lossguard --jobs")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds per repository")
    parser.add_argument("--repos-file", type=Path, default=REPOS_FILE)
    parser.add_argument("--snapshot", type=Path, default=SNAPSHOT_FILE)
    parser.add_argument("--misses", type=Path, default=MISSES_FILE)
    parser.add_argument("--pending", type=Path, metavar="FILE",
                        help="write the unjudged findings here, with context, to be judged")
    parser.add_argument("--merge", type=Path, metavar="FILE",
                        help="merge the judged entries of a pending file into the snapshot "
                             "and exit (no linting)")
    parser.add_argument("--json-out", type=Path, metavar="FILE",
                        help="write this run's findings and metrics here")
    parser.add_argument("--files", action="store_true",
                        help="only print how many files each pin selects, then exit")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.merge:
        return merge(args.merge, args.snapshot)
    pins = load_pins(args.repos_file)
    if args.repo:
        unknown = set(args.repo) - {p.repo for p in pins}
        if unknown:
            print(f"not pinned in {args.repos_file}: {', '.join(sorted(unknown))}",
                  file=sys.stderr)
            return 2
        pins = [p for p in pins if p.repo in args.repo]
    if args.files:
        total = 0
        for pin in pins:
            git_dir = find_git_dir(args.mirrors, pin.repo)
            if git_dir is None or not has_commit(git_dir, pin.commit):
                print(f"{pin.repo:<52} missing")
                continue
            count = len(selected_blobs(git_dir, pin))
            total += count
            print(f"{pin.repo:<52} {count:>6}")
        print(f"{'total':<52} {total:>6}")
        return 0
    cmd = shlex.split(args.cmd) if args.cmd else default_cmd()
    started = time.monotonic()
    runs = run_repos(pins, args.mirrors, args.work, cmd, args.jobs, args.timeout)
    sources = Sources(args.work)
    result = report(runs, read_list(args.snapshot), read_list(args.misses), sources)
    elapsed = time.monotonic() - started
    result["metrics"]["seconds"] = round(elapsed, 1)
    print(f"\ntook {elapsed:.1f}s")
    if args.json_out:
        args.json_out.parent.mkdir(parents=True, exist_ok=True)
        args.json_out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n",
                                 encoding="utf-8")
    if args.pending:
        write_pending(args.pending, result["findings"], sources)
    metrics = result["metrics"]
    if metrics["errors"] or metrics["partial"] or not metrics["linted"]:
        return 2
    return 1 if metrics["unjudged"] else 0


if __name__ == "__main__":
    sys.exit(main())
