"""Where a phone reaches each lock's near-field service, as the lock reports it at sync.

Adds devices.near_field_url; downgrade removes it.

Revision ID: 0005_near_field
Revises: 0004_requests
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_near_field"
down_revision: str | Sequence[str] | None = "0004_requests"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("devices") as batch:
        batch.add_column(sa.Column("near_field_url", sa.String(length=300), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("devices") as batch:
        batch.drop_column("near_field_url")
