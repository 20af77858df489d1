"""The `ingest` command (`python -m ingest`, and the console script).

The commands' modules take a moment to import; a Ctrl-C meanwhile is one line and exit 130,
like a Ctrl-C at any later moment (ingest.cli.main), not a traceback of the import.
"""
from __future__ import annotations

import sys

INTERRUPTED = "ingest: interrupted by SIGINT; everything stored so far is kept (run again to continue)"


def main() -> None:
    try:
        from ingest.cli import main as cli_main
    except KeyboardInterrupt:
        print(INTERRUPTED, file=sys.stderr, flush=True)
        sys.exit(130)
    cli_main()


if __name__ == "__main__":
    main()
