"""Entry point for `python3 scripts/migbench ...`.

Running a folder executes this file with the folder itself on sys.path, so
the package would not be importable as `migbench`; put its parent first.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from migbench.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
