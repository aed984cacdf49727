"""``python -m syndicator``: the same as the ``syndicator`` console script."""

from syndicator.cli import main

raise SystemExit(main())
