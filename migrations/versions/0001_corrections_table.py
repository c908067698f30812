"""The corrections table (corrections.models.Correction).

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""
from alembic import op
import sqlalchemy as sa

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "corrections",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("label", sa.SmallInteger(), nullable=False),  # 0..9, 10 = not a digit
        sa.Column("image", sa.LargeBinary(), nullable=False),
        sa.Column("image_type", sa.String(length=16), nullable=False),
        sa.Column("image_size", sa.Integer(), nullable=False),
        sa.Column("inputs", sa.LargeBinary(), nullable=False),  # (input_count, 28, 28) uint8
        sa.Column("input_count", sa.Integer(), nullable=False),
        sa.Column("reading", sa.String(length=32), nullable=False),
        sa.Column("confidence", sa.Double(), nullable=False),
        sa.Column("model_sha256", sa.String(length=64), nullable=True),
        sa.CheckConstraint("label >= 0 AND label <= 10", name="ck_corrections_label"),
        sa.PrimaryKeyConstraint("id"),
    )


def downgrade():
    op.drop_table("corrections")
