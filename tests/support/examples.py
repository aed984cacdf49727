"""How many examples a property test tries (hypothesis): every one in the full suite (``make
test``), a tenth in the fast lane (``make test-fast`` sets ``SYNDICATOR_TEST_LANE=fast``). The
same properties are checked either way, the fast lane on fewer inputs; failing examples found
by either are kept in hypothesis's database and tried first by both. A test of seeded random
scenarios takes its seeds the same way (:func:`seeds`)."""

from __future__ import annotations

import os

FAST_LANE = os.environ.get("SYNDICATOR_TEST_LANE") == "fast"


def examples(full: int) -> int:
    """``full`` in the full suite; a tenth of it (at least 20) in the fast lane."""
    return max(20, full // 10) if FAST_LANE else full


def seeds(full: int) -> range:
    """The seeds of a test of random scenarios: all ``full`` in the full suite; the first
    third (at least two) in the fast lane."""
    return range(max(2, full // 3)) if FAST_LANE else range(full)
