"""Record which door each generation came in by.

Revision ID: 20261202_0002
Revises: 20261124_0001
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "20261202_0002"
down_revision = "20261124_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("generations") as batch:
        batch.add_column(sa.Column("route", sa.String(32), nullable=False, server_default="images"))


def downgrade() -> None:
    with op.batch_alter_table("generations") as batch:
        batch.drop_column("route")
