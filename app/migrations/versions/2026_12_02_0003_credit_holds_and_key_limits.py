"""Credit holds (reserve, then settle), limit reset periods and per-key load limits.

Revision ID: 20261202_0003
Revises: 20261202_0002
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from app.db.models import Money, UTCDateTime

revision = "20261202_0003"
down_revision = "20261202_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("api_keys") as batch:
        batch.add_column(sa.Column("limit_reset", sa.String(16), nullable=True))
        batch.add_column(sa.Column("period_start", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("period_usage_usd", Money(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("rate_limit_rpm", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("concurrency_limit", sa.Integer(), nullable=True))
    op.create_table(
        "credit_holds",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("api_key_id", sa.String(32), nullable=False),
        sa.Column("amount_usd", Money(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["api_key_id"],
            ["api_keys.id"],
            name=op.f("fk_credit_holds_api_key_id_api_keys"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credit_holds")),
    )
    op.create_index(
        op.f("ix_credit_holds_api_key_id"), "credit_holds", ["api_key_id"], unique=False
    )
    op.create_index(
        op.f("ix_credit_holds_expires_at"), "credit_holds", ["expires_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_credit_holds_expires_at"), table_name="credit_holds")
    op.drop_index(op.f("ix_credit_holds_api_key_id"), table_name="credit_holds")
    op.drop_table("credit_holds")
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_column("concurrency_limit")
        batch.drop_column("rate_limit_rpm")
        batch.drop_column("period_usage_usd")
        batch.drop_column("period_start")
        batch.drop_column("limit_reset")
