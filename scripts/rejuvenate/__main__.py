"""Entry point for `python3 scripts/rejuvenate ...` (see cli.py).

Running a folder executes this file with the folder itself on sys.path;
put scripts/ first so that `rejuvenate` and `migbench` import as packages.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from rejuvenate.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
