"""`python -m eval analysis`: evaluation commands (see docs/analysis.md)."""
import sys

from . import analysis, coverage, extraction, prefilter, versions, warc

COMMANDS = {"analysis": analysis.run, "coverage": coverage.run, "extraction": extraction.run,
            "prefilter": prefilter.run, "warc": warc.run, "versions": versions.run}

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        print(f"usage: python -m eval {{{','.join(COMMANDS)}}} [options]", file=sys.stderr)
        sys.exit(2)
    sys.exit(COMMANDS[sys.argv[1]](sys.argv[2:]))
