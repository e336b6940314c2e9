"""``python -m restore``: the same as the ``restore`` command."""

from restore.cli import main

raise SystemExit(main())
