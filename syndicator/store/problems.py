"""Problems the scaled mode's processes report (meta rows), for the web nodes to show."""

from __future__ import annotations

import sqlalchemy as sa

from syndicator.store.database import StoreBase
from syndicator.store.schema import PROBLEM_KEY, meta


class Problems(StoreBase):
    """Problems reported by processes, kept in the meta table."""

    def set_problem(self, key: str, problem: str | None) -> None:
        """Record (None: clear) a problem of one process of the scaled mode, such as a reload
        its scheduler refused: rows of ``meta`` keyed ``problem:KEY``, which every web node's
        ``/healthz`` and status page show until they are cleared."""
        name = (PROBLEM_KEY + key)[:64]
        with self.engine.begin() as conn:
            conn.execute(sa.delete(meta).where(meta.c.key == name))
            if problem is not None:
                conn.execute(sa.insert(meta).values(key=name, value=problem))

    def problems(self) -> list[str]:
        """The problems recorded by :meth:`set_problem`, in the order of their keys."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(meta.c.value)
                .where(meta.c.key.startswith(PROBLEM_KEY, autoescape=True))
                .order_by(meta.c.key)
            )
            return [row[0] for row in rows]
