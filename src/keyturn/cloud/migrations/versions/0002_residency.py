"""Residencies: a resident's membership carries its lease dates and when it ended, and a key
may belong to a unit (the key a move-in grants).

The unique (person, property, role, unit) constraint becomes a partial unique index over
memberships not ended, so a person may move back into a unit they once left.

Revision ID: 0002_residency
Revises: 0001
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_residency"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_LIVE_INDEX = "uq_role_memberships_live_person_id_property_id_role_unit_id"
_OLD_UNIQUE = "uq_role_memberships_person_id_property_id_role_unit_id"
_MEMBERSHIP_KEY = ["person_id", "property_id", "role", "unit_id"]


def upgrade() -> None:
    with op.batch_alter_table("role_memberships") as batch:
        batch.add_column(sa.Column("starts_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("ends_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True))
        batch.drop_constraint(_OLD_UNIQUE, type_="unique")
    op.create_index(
        _LIVE_INDEX,
        "role_memberships",
        _MEMBERSHIP_KEY,
        unique=True,
        sqlite_where=sa.text("ended_at IS NULL"),
        postgresql_where=sa.text("ended_at IS NULL"),
    )
    with op.batch_alter_table("keys") as batch:
        batch.add_column(sa.Column("unit_id", sa.String(length=36), nullable=True))
        batch.create_foreign_key(
            op.f("fk_keys_unit_id_units"), "units", ["unit_id"], ["id"], ondelete="SET NULL"
        )
        batch.create_index(op.f("ix_keys_unit_id"), ["unit_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("keys") as batch:
        batch.drop_index(op.f("ix_keys_unit_id"))
        batch.drop_constraint(op.f("fk_keys_unit_id_units"), type_="foreignkey")
        batch.drop_column("unit_id")
    op.drop_index(_LIVE_INDEX, table_name="role_memberships")
    with op.batch_alter_table("role_memberships") as batch:
        batch.create_unique_constraint(_OLD_UNIQUE, _MEMBERSHIP_KEY)
        batch.drop_column("ended_at")
        batch.drop_column("ends_at")
        batch.drop_column("starts_at")
