"""The `ingest` command (`python -m ingest`, and the console script).

The commands' modules take a moment to import; a Ctrl-C meanwhile is one line and exit 130,
like a Ctrl-C at any later moment (ingest.cli.main), not a traceback of the import.
"""
from __future__ import annotations

import os
import sys

INTERRUPTED = "ingest: interrupted by SIGINT; everything stored so far is kept (run again to continue)"


def main() -> None:
    try:
        from ingest.cli import main as cli_main
    except KeyboardInterrupt:
        print(INTERRUPTED, file=sys.stderr, flush=True)
        # Nothing is open yet (no database, no pool: only imports ran), so the process ends here.
        # sys.exit(130) was seen to end as a SIGINT kill (exit -2) in about one run of two when
        # the interrupt landed inside an import (tests/test_interrupt_tty.py); os._exit cannot.
        # The forkserver and resource tracker, if started, exit when their pipes close.
        sys.stdout.flush()
        os._exit(130)
    cli_main()


if __name__ == "__main__":
    main()
