"""``python -m restore``: the same as the ``restore`` command."""

from restore.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
