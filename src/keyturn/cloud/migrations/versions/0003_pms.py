"""The PMS sync's tables: the residencies it created (pms_links) and the reviews of partial
matches (pms_reviews).

Revision ID: 0003_pms
Revises: 0002_residency
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_pms"
down_revision: str | Sequence[str] | None = "0002_residency"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "pms_links",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("property_id", sa.String(length=36), nullable=False),
        sa.Column("external_key", sa.String(length=220), nullable=False),
        sa.Column("membership_id", sa.String(length=36), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["membership_id"],
            ["role_memberships.id"],
            name=op.f("fk_pms_links_membership_id_role_memberships"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["property_id"],
            ["properties.id"],
            name=op.f("fk_pms_links_property_id_properties"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pms_links")),
        sa.UniqueConstraint("membership_id", name=op.f("uq_pms_links_membership_id")),
    )
    op.create_index(op.f("ix_pms_links_property_id"), "pms_links", ["property_id"], unique=False)
    op.create_table(
        "pms_reviews",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("property_id", sa.String(length=36), nullable=False),
        sa.Column("external_key", sa.String(length=220), nullable=False),
        sa.Column("person_id", sa.String(length=36), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("pms_name", sa.String(length=200), nullable=False),
        sa.Column("known_name", sa.String(length=200), nullable=False),
        sa.Column("unit_label", sa.String(length=200), nullable=False),
        sa.Column(
            "state",
            sa.Enum(
                "pending",
                "accepted",
                "rejected",
                name="pms_review_state",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.String(length=36), nullable=True),
        sa.ForeignKeyConstraint(
            ["decided_by"],
            ["people.id"],
            name=op.f("fk_pms_reviews_decided_by_people"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["people.id"],
            name=op.f("fk_pms_reviews_person_id_people"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["property_id"],
            ["properties.id"],
            name=op.f("fk_pms_reviews_property_id_properties"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pms_reviews")),
        sa.UniqueConstraint(
            "property_id",
            "external_key",
            "pms_name",
            name=op.f("uq_pms_reviews_property_id_external_key_pms_name"),
        ),
    )
    op.create_index(op.f("ix_pms_reviews_person_id"), "pms_reviews", ["person_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_pms_reviews_person_id"), table_name="pms_reviews")
    op.drop_table("pms_reviews")
    op.drop_index(op.f("ix_pms_links_property_id"), table_name="pms_links")
    op.drop_table("pms_links")
