"""Corrections of whole numbers, and a per-row secret that lets the client that made a row change or withdraw it.

A row holds a digit label (``label``) or a number (``number``, its digits, and ``number_text``, as written), never
both: ``label`` becomes nullable. ``secret_sha256`` is the hash of the secret answered when the row was made;
rows stored before this revision have none and cannot be changed.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04
"""
from alembic import op
import sqlalchemy as sa

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("corrections") as batch:  # SQLite rebuilds the table to change a column
        batch.alter_column("label", existing_type=sa.SmallInteger(), nullable=True)
        batch.add_column(sa.Column("number", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("number_text", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("secret_sha256", sa.String(length=64), nullable=True))
        batch.create_check_constraint("ck_corrections_label_or_number", "(label IS NULL) <> (number IS NULL)")


def downgrade():
    op.execute("DELETE FROM corrections WHERE label IS NULL")  # number corrections have no digit label to keep
    with op.batch_alter_table("corrections") as batch:
        batch.drop_constraint("ck_corrections_label_or_number", type_="check")
        batch.drop_column("secret_sha256")
        batch.drop_column("number_text")
        batch.drop_column("number")
        batch.alter_column("label", existing_type=sa.SmallInteger(), nullable=False)
