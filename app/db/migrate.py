"""Run the Alembic migrations shipped inside the package (sync entry points)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    cfg.set_main_option("file_template", "%%(year)d_%%(month).2d_%%(day).2d_%%(rev)s_%%(slug)s")
    return cfg


def upgrade(url: str, revision: str = "head") -> tuple[str, ...]:
    """Migrate the database at ``url`` up to ``revision``. Must not run inside an event loop.

    Returns the revisions the database was at when the upgrade began (read under the
    migration lock on Postgres; empty for a new database).
    """
    cfg = alembic_config(url)
    command.upgrade(cfg, revision)
    before: tuple[str, ...] = cfg.attributes.get("revisions_before", ())
    return before


def downgrade(url: str, revision: str) -> None:
    command.downgrade(alembic_config(url), revision)
