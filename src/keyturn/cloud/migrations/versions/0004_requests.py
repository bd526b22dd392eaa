"""Requests from anyone: who asked and how, the public form's pending requests, and the
notices mailed to reviewers.

Adds the requester's details, the note, the filing reviewer and the copy's one-time link to
data_subject_requests, the link purpose data_copy, and the tables dsar_public_requests and
dsar_reviewer_notices; downgrade removes them.

Revision ID: 0004_requests
Revises: 0003_pms
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_requests"
down_revision: str | Sequence[str] | None = "0003_pms"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PURPOSES = "purpose IN ({})"
EARLIER_PURPOSES = "'password_reset', 'invitation'"
ALL_PURPOSES = EARLIER_PURPOSES + ", 'data_copy'"


def upgrade() -> None:
    with op.batch_alter_table("data_subject_requests") as batch:
        batch.add_column(sa.Column("requester_name", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("requester_email", sa.String(length=320), nullable=True))
        batch.add_column(sa.Column("requester_phone", sa.String(length=40), nullable=True))
        batch.add_column(sa.Column("note", sa.Text(), nullable=True))
        batch.add_column(sa.Column("filed_by", sa.String(length=36), nullable=True))
        batch.add_column(sa.Column("copy_link_id", sa.String(length=36), nullable=True))
        batch.create_foreign_key(
            op.f("fk_data_subject_requests_filed_by_people"),
            "people",
            ["filed_by"],
            ["id"],
            ondelete="SET NULL",
        )
        batch.create_foreign_key(
            op.f("fk_data_subject_requests_copy_link_id_email_links"),
            "email_links",
            ["copy_link_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch.create_index(
            op.f("ix_data_subject_requests_copy_link_id"), ["copy_link_id"], unique=False
        )
    with op.batch_alter_table("email_links") as batch:
        batch.drop_constraint(op.f("ck_email_links_link_purpose"), type_="check")
        batch.create_check_constraint(
            op.f("ck_email_links_link_purpose"), PURPOSES.format(ALL_PURPOSES)
        )
    # Requests from a person's own account were recorded as "account"; the app's word is "app".
    op.execute("UPDATE data_subject_requests SET channel = 'app' WHERE channel = 'account'")
    op.create_table(
        "dsar_public_requests",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "copy",
                "deletion",
                name="request_kind",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("property_id", sa.String(length=36), nullable=True),
        sa.Column("property_named", sa.String(length=200), nullable=False),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("code_digest", sa.String(length=64), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("request_id", sa.String(length=36), nullable=True),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["data_subject_requests.id"],
            name=op.f("fk_dsar_public_requests_request_id_data_subject_requests"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dsar_public_requests")),
    )
    op.create_index(
        op.f("ix_dsar_public_requests_expires_at"),
        "dsar_public_requests",
        ["expires_at"],
        unique=False,
    )
    op.create_index(
        op.f("ix_dsar_public_requests_request_id"),
        "dsar_public_requests",
        ["request_id"],
        unique=False,
    )
    op.create_table(
        "dsar_reviewer_notices",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("request_id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recipients", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["data_subject_requests.id"],
            name=op.f("fk_dsar_reviewer_notices_request_id_data_subject_requests"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dsar_reviewer_notices")),
        sa.UniqueConstraint(
            "request_id", "kind", name=op.f("uq_dsar_reviewer_notices_request_id_kind")
        ),
    )


def downgrade() -> None:
    op.drop_table("dsar_reviewer_notices")
    op.drop_index(op.f("ix_dsar_public_requests_request_id"), table_name="dsar_public_requests")
    op.drop_index(op.f("ix_dsar_public_requests_expires_at"), table_name="dsar_public_requests")
    op.drop_table("dsar_public_requests")
    with op.batch_alter_table("data_subject_requests") as batch:
        batch.drop_index(op.f("ix_data_subject_requests_copy_link_id"))
        batch.drop_constraint(
            op.f("fk_data_subject_requests_copy_link_id_email_links"), type_="foreignkey"
        )
        batch.drop_constraint(op.f("fk_data_subject_requests_filed_by_people"), type_="foreignkey")
        batch.drop_column("copy_link_id")
        batch.drop_column("filed_by")
        batch.drop_column("note")
        batch.drop_column("requester_phone")
        batch.drop_column("requester_email")
        batch.drop_column("requester_name")
    op.execute("DELETE FROM email_links WHERE purpose = 'data_copy'")
    with op.batch_alter_table("email_links") as batch:
        batch.drop_constraint(op.f("ck_email_links_link_purpose"), type_="check")
        batch.create_check_constraint(
            op.f("ck_email_links_link_purpose"), PURPOSES.format(EARLIER_PURPOSES)
        )
    op.execute("UPDATE data_subject_requests SET channel = 'account' WHERE channel = 'app'")
