"""Initial results-store schema: runs, run_intervals, run_types, run_metrics.

Revision ID: 0001
Revises:
Create Date: 2026-11-23 00:00:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create the four store tables."""
    op.create_table(
        "runs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("zone", sa.String(length=64), nullable=True),
        sa.Column("config_json", sa.Text(), nullable=False),
        sa.Column("config_hash", sa.String(length=64), nullable=False),
        sa.Column("created_utc", sa.DateTime(timezone=True), nullable=False),
        sa.Column("btut_version", sa.String(length=64), nullable=False),
        sa.Column("layout_json", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_runs"),
        sa.UniqueConstraint("config_hash", name="uq_runs_config_hash"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_runs_kind", "runs", ["kind"], unique=False)
    op.create_table(
        "run_intervals",
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("time_utc", sa.DateTime(timezone=True), nullable=False),
        sa.Column("agent_type", sa.String(length=64), nullable=False),
        sa.Column("quantity", sa.String(length=128), nullable=False),
        sa.Column("value", sa.Double(), nullable=True),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.id"], name="fk_run_intervals_run_id_runs", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint(
            "run_id", "time_utc", "agent_type", "quantity", name="pk_run_intervals"
        ),
    )
    op.create_table(
        "run_types",
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("agent_type", sa.String(length=64), nullable=False),
        sa.Column("quantity", sa.String(length=128), nullable=False),
        sa.Column("value", sa.Double(), nullable=True),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.id"], name="fk_run_types_run_id_runs", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("run_id", "agent_type", "quantity", name="pk_run_types"),
    )
    op.create_table(
        "run_metrics",
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("value", sa.Double(), nullable=True),
        sa.Column("text", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.id"], name="fk_run_metrics_run_id_runs", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("run_id", "name", name="pk_run_metrics"),
    )


def downgrade() -> None:
    """Drop the four store tables."""
    op.drop_table("run_metrics")
    op.drop_table("run_types")
    op.drop_table("run_intervals")
    op.drop_index("ix_runs_kind", table_name="runs")
    op.drop_table("runs")
