"""Identity tables: organizations (the tenant boundary), accounts, candidates, tokens.

An account (``user``) belongs to exactly one organization and holds that organization's
roles for its person (the membership); a person working for two organizations has two
accounts. Candidates are records of their own, apart from login credentials: a candidate
row has no password column at all.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from waa_ads.core.db import Base, TimestampMixin, uuid7


class Role(StrEnum):
    admin = "admin"
    author = "author"
    proctor = "proctor"
    rater = "rater"
    candidate = "candidate"


class Organization(TimestampMixin, Base):
    __tablename__ = "organization"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    # The player's header and reports (auth/branding.py): a #rrggbb colour dark enough for
    # white text, and a logo picture in the blob store by its SHA-256.
    brand_color: Mapped[str | None] = mapped_column(String(7))
    logo_sha256: Mapped[str | None] = mapped_column(String(64))
    logo_content_type: Mapped[str | None] = mapped_column(String(32))
    #: The language of its candidates' tests when neither the roster nor the
    #: administration names one (a code of ``core.i18n.LANGUAGES``).
    default_locale: Mapped[str] = mapped_column(String(16), default="en", server_default="en")


class User(TimestampMixin, Base):
    __tablename__ = "user"
    __table_args__ = (UniqueConstraint("organization_id", "email"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organization.id", ondelete="CASCADE"), index=True
    )
    email: Mapped[str] = mapped_column(String(320), index=True)
    display_name: Mapped[str | None] = mapped_column(String(200))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    roles: Mapped[list[str]] = mapped_column(JSON, default=list)
    is_active: Mapped[bool] = mapped_column(default=True)
    last_login_at: Mapped[datetime | None]
    erased_at: Mapped[datetime | None]
    #: The person's own language (the console's and their e-mails'); ``None``: the
    #: organization's default.
    locale: Mapped[str | None] = mapped_column(String(16))


class Candidate(TimestampMixin, Base):
    __tablename__ = "candidate"
    __table_args__ = (
        UniqueConstraint("organization_id", "external_id"),
        Index("ix_candidate_organization_id_email", "organization_id", "email"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organization.id", ondelete="CASCADE"), index=True
    )
    external_id: Mapped[str | None] = mapped_column(String(200))
    full_name: Mapped[str | None] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320))
    #: A group the organization defines (a site, a cohort, an accommodation category...);
    #: the integrity fairness report gives flag and decision rates per group.
    group: Mapped[str | None] = mapped_column(String(100))
    #: The candidate's language (the roster's language column); ``None``: the
    #: administration's or the organization's.
    locale: Mapped[str | None] = mapped_column(String(16))
    # A candidate who signs in (later: SSO/LTI) is linked to an account; most never are.
    user_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("user.id", ondelete="SET NULL"), index=True
    )
    erased_at: Mapped[datetime | None]


class Invitation(TimestampMixin, Base):
    """A single-use link for a new account to choose its password. Only a hash is stored."""

    __tablename__ = "invitation"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organization.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime]
    accepted_at: Mapped[datetime | None]


class RefreshToken(Base):
    """A refresh token of the database token store (used when no Redis is configured).

    ``family_id`` ties together every token rotated from one login: presenting a token that
    was already rotated revokes the whole family.
    """

    __tablename__ = "refresh_token"

    id: Mapped[str] = mapped_column(String(43), primary_key=True)
    family_id: Mapped[str] = mapped_column(String(43), index=True)
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organization.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"))
    secret_hash: Mapped[str] = mapped_column(String(64))
    transport: Mapped[str] = mapped_column(String(16), default="bearer")
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class TokenRevocation(Base):
    """Revoked access-token ids (``jti:...``) and token families (``fam:...``), kept until
    the longest-lived token they could concern has expired."""

    __tablename__ = "token_revocation"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(index=True)


def role_values(roles: Any) -> list[str]:
    return sorted({str(Role(r)) for r in roles})
