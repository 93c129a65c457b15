"""`python -m lossguard` and the `lossguard` command: `cli.main.main` in a process of its own."""

import gc
import sys
from typing import NoReturn


def run() -> NoReturn:
    # The process's objects live until it ends, so the garbage collector has little to find in
    # it and much to trace: libcst's and lossguard's imports create enough objects to trigger
    # many collections (about 10 ms of a one-file run), and at exit the interpreter runs one
    # more over everything still alive (about 20 ms). The imports run without the collector,
    # `main` with its own thresholds (see `pipeline.batch`), and the exit skips what is frozen.
    gc.disable()
    from .cli.main import main

    gc.enable()
    status = main()
    gc.freeze()
    sys.exit(status)


if __name__ == "__main__":
    run()
