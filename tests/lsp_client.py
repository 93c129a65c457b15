"""A small language-server client for the tests: JSON-RPC over a server process's stdio.

It starts `python -m lossguard.cli.server`, frames messages with `Content-Length` headers as an
editor does, answers the server's own requests (`client/registerCapability`) and keeps every
notification, so a test can wait for the diagnostics of a document.
"""

from __future__ import annotations

import json
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def uri(path: Path) -> str:
    return path.resolve().as_uri()


class Client:
    def __init__(self, *args: str, cwd: Path = ROOT) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "lossguard.cli.server", *args], cwd=cwd,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.messages: queue.Queue[dict] = queue.Queue()
        self.notifications: list[dict] = []
        self.server_requests: list[dict] = []
        self._next_id = 0
        self._lock = threading.Lock()
        self.errors: list[bytes] = []  # the server's stderr, read so that it never blocks
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=self._read_errors, daemon=True).start()

    # --- wire ---------------------------------------------------------------------------------
    def _read(self) -> None:
        stream = self.process.stdout
        assert stream is not None
        while True:
            length = None
            while True:
                header = stream.readline()
                if not header:
                    return  # the server exited
                header = header.strip()
                if not header:
                    break
                name, _, value = header.decode("ascii").partition(":")
                if name.lower() == "content-length":
                    length = int(value)
            assert length is not None, "a message without Content-Length"
            self.messages.put(json.loads(stream.read(length)))

    def _read_errors(self) -> None:
        stream = self.process.stderr
        assert stream is not None
        for line in stream:
            self.errors.append(line)

    def _send(self, message: dict) -> None:
        body = json.dumps({"jsonrpc": "2.0", **message}).encode("utf-8")
        stdin = self.process.stdin
        assert stdin is not None
        with self._lock:
            stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
            stdin.flush()

    def _pump(self, timeout: float) -> dict | None:
        """The next message, answering the server's requests and keeping notifications."""
        try:
            message = self.messages.get(timeout=timeout)
        except queue.Empty:
            return None
        if "method" in message and "id" in message:  # a request from the server
            self.server_requests.append(message)
            self._send({"id": message["id"], "result": None})
        elif "method" in message:
            self.notifications.append(message)
        return message

    # --- messages -----------------------------------------------------------------------------
    def notify(self, method: str, params: Any = None) -> None:
        self._send({"method": method, "params": params})

    def request(self, method: str, params: Any = None, timeout: float = 30) -> Any:
        self._next_id += 1
        number = self._next_id
        self._send({"id": number, "method": method, "params": params})
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            message = self._pump(deadline - time.monotonic())
            if message is not None and message.get("id") == number and "method" not in message:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result")
        raise TimeoutError(f"no answer to {method} in {timeout} s")

    def wait_for(self, method: str, match: Any = lambda params: True, timeout: float = 30,
                 after: int = 0) -> dict:
        """The params of the first notification `method` (from index `after` on) that
        `match`es, waiting for it if need be."""
        deadline = time.monotonic() + timeout
        seen = after
        while True:
            for note in self.notifications[seen:]:
                if note["method"] == method and match(note["params"]):
                    return note["params"]
            seen = len(self.notifications)
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no {method} matching in {timeout} s; got "
                                   f"{self.notifications[after:]}")
            self._pump(left)

    def diagnostics(self, document: str, version: int | None = None, timeout: float = 30,
                    after: int = 0) -> list[dict]:
        """The next diagnostics published for `document` (of `version`, if given)."""
        params = self.wait_for(
            "textDocument/publishDiagnostics",
            lambda p: p["uri"] == document and (version is None or p.get("version") == version),
            timeout, after)
        return params["diagnostics"]

    def published(self, document: str) -> list[dict]:
        return [n["params"] for n in self.notifications
                if n["method"] == "textDocument/publishDiagnostics"
                and n["params"]["uri"] == document]

    def drain(self, seconds: float) -> None:
        """Take in whatever the server sends for `seconds`."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            self._pump(left)

    # --- session ------------------------------------------------------------------------------
    def initialize(self, root: Path, options: dict | None = None,
                   capabilities: dict | None = None) -> dict:
        result = self.request("initialize", {
            "processId": None, "rootUri": uri(root),
            "workspaceFolders": [{"uri": uri(root), "name": root.name}],
            "initializationOptions": options or {},
            "capabilities": capabilities or {
                "workspace": {"didChangeWatchedFiles": {"dynamicRegistration": True}},
                "textDocument": {"publishDiagnostics": {"versionSupport": True},
                                 "codeAction": {"codeActionLiteralSupport": {
                                     "codeActionKind": {"valueSet": [
                                         "quickfix", "source", "source.fixAll"]}}}}}})
        self.notify("initialized", {})
        return result

    def open(self, path: Path, text: str, version: int = 1, language: str = "python") -> str:
        document = uri(path)
        self.notify("textDocument/didOpen", {"textDocument": {
            "uri": document, "languageId": language, "version": version, "text": text}})
        return document

    def change(self, document: str, text: str, version: int) -> None:
        self.notify("textDocument/didChange", {
            "textDocument": {"uri": document, "version": version},
            "contentChanges": [{"text": text}]})

    def close(self) -> int:
        """Shut the server down as an editor does; its exit code."""
        try:
            self.request("shutdown", timeout=10)
            self.notify("exit")
            return self.process.wait(timeout=10)
        except Exception:
            self.process.kill()
            self.process.wait()
            raise
        finally:
            if self.process.stdin is not None:
                self.process.stdin.close()

    def stderr(self) -> str:
        return b"".join(self.errors).decode("utf-8", "replace")


def apply(text: str, edits: list[dict]) -> str:
    """`text` with LSP text edits applied (positions in UTF-16 units; ASCII in these tests)."""
    lines = text.split("\n")
    starts = [0]
    for line in lines[:-1]:
        starts.append(starts[-1] + len(line) + 1)

    def offset(position: dict) -> int:
        return starts[position["line"]] + position["character"]

    for edit in sorted(edits, key=lambda e: offset(e["range"]["start"]), reverse=True):
        begin, end = offset(edit["range"]["start"]), offset(edit["range"]["end"])
        text = text[:begin] + edit["newText"] + text[end:]
    return text
