"""Each row's image sha256, indexed: the same drawing sent twice with the same label is stored once.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-04
"""
import hashlib

from alembic import op
import sqlalchemy as sa

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

PAGE_ROWS = 16  # rows hashed at a time: images are up to 2 MB


def upgrade():
    op.add_column("corrections", sa.Column("image_sha256", sa.String(length=64), nullable=True))
    table = sa.table("corrections", sa.column("id", sa.Integer()), sa.column("image", sa.LargeBinary()),
                     sa.column("image_sha256", sa.String(length=64)))
    connection = op.get_bind()
    last = 0
    while True:  # rows stored before this revision, a page at a time
        page = connection.execute(sa.select(table.c.id, table.c.image).where(table.c.id > last)
                                  .order_by(table.c.id).limit(PAGE_ROWS)).all()
        if not page:
            break
        for row_id, image in page:
            connection.execute(table.update().where(table.c.id == row_id)
                               .values(image_sha256=hashlib.sha256(image).hexdigest()))
        last = page[-1][0]
    op.create_index("ix_corrections_image_sha256", "corrections", ["image_sha256"])


def downgrade():
    op.drop_index("ix_corrections_image_sha256", table_name="corrections")
    with op.batch_alter_table("corrections") as batch:  # SQLite rebuilds the table
        batch.drop_column("image_sha256")
