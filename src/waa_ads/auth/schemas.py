"""Request and response bodies of the identity API."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import (
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    StringConstraints,
    computed_field,
    field_validator,
)
from pydantic.json_schema import SkipJsonSchema
from pydantic_core import PydanticCustomError

from waa_ads.auth import branding
from waa_ads.auth.models import Role
from waa_ads.core.language_choice import LocaleCode
from waa_ads.core.params import PatchModel

Password = Annotated[str, StringConstraints(min_length=12, max_length=256)]
Slug = Annotated[
    str, StringConstraints(min_length=2, max_length=64, pattern=r"^[a-z0-9][a-z0-9-]*$")
]


class TokenPair(BaseModel):
    access_token: str
    token_type: str = "bearer"  # noqa: S105
    expires_in: int = Field(description="Seconds until the access token expires.")
    refresh_token: str


class RefreshRequest(BaseModel):
    refresh_token: str | None = Field(
        default=None, description="Omit when refreshing a cookie session (the cookie is used)."
    )


class LogoutRequest(BaseModel):
    refresh_token: str | None = None


class SessionLogin(BaseModel):
    email: EmailStr
    password: str = Field(min_length=1, max_length=256)
    organization: str | None = Field(
        default=None,
        description="Organization slug; needed only if the e-mail has accounts in several.",
    )


class SessionInfo(BaseModel):
    csrf_token: str = Field(description="Send as X-CSRF-Token on every unsafe cookie request.")
    expires_in: int


class OrganizationRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    slug: str
    name: str
    timezone: str
    default_locale: str = Field(
        default="en",
        description="The language of its candidates' tests when neither the candidate nor "
        "the administration names one.",
    )
    brand_color: str | None = Field(
        default=None,
        description="#rrggbb: the player header's background (white text on it) and the "
        "reports' accent; null for the product's own.",
    )
    logo_sha256: SkipJsonSchema[str | None] = Field(default=None, exclude=True)

    @computed_field(  # type: ignore[prop-decorator]
        description="The logo picture (public, for the player's header); null without one. "
        "Its query changes with the picture."
    )
    @property
    def logo_url(self) -> str | None:
        if self.logo_sha256 is None:
            return None
        return f"/api/v1/organizations/{self.id}/logo?v={self.logo_sha256[:16]}"

    @computed_field(  # type: ignore[prop-decorator]
        description="The player's stylesheet for this organization (public); null without "
        "a brand colour."
    )
    @property
    def player_style_url(self) -> str | None:
        if self.brand_color is None:
            return None
        return f"/api/v1/organizations/{self.id}/player.css?v={self.brand_color[1:].lower()}"


class OrganizationUpdate(PatchModel):
    nullable = frozenset({"brand_color"})

    name: str | None = Field(default=None, min_length=1, max_length=200)
    timezone: str | None = Field(default=None, min_length=1, max_length=64)
    default_locale: LocaleCode | None = Field(
        default=None,
        description="The language of its candidates' tests when neither the candidate nor "
        "the administration names one.",
    )
    brand_color: str | None = Field(
        default=None,
        max_length=7,
        description="#rrggbb with at least 4.5:1 contrast against white text (WCAG AA); "
        "null restores the product's colour.",
    )

    @field_validator("brand_color")
    @classmethod
    def _readable_with_white_text(cls, value: str | None) -> str | None:
        if value is None:
            return None
        problem = branding.brand_color_problem(value)
        if problem is not None:
            raise PydanticCustomError("brand_color", problem)
        return value.lower()


class Me(BaseModel):
    user_id: uuid.UUID
    organization: OrganizationRead
    email: str
    display_name: str | None
    roles: list[Role]
    transport: str
    locale: str | None = Field(
        default=None,
        description="The caller's own language (the console's and their e-mails'); null: "
        "the organization's default.",
    )


class MyLanguage(BaseModel):
    locale: LocaleCode | None = Field(
        description="The language the console and e-mails speak to the caller in; null: the "
        "organization's default."
    )


class UserCreate(BaseModel):
    email: EmailStr
    display_name: str | None = Field(default=None, max_length=200)
    roles: list[Role] = Field(min_length=1)
    password: Password | None = Field(
        default=None, description="Omit to send an invitation instead."
    )
    locale: LocaleCode | None = Field(
        default=None,
        description="The person's language (the console's, their invitation's); null: the "
        "organization's default.",
    )


class UserUpdate(PatchModel):
    nullable = frozenset({"display_name", "locale"})

    display_name: str | None = Field(default=None, max_length=200)
    roles: list[Role] | None = Field(default=None, min_length=1)
    is_active: bool | None = None
    locale: LocaleCode | None = Field(
        default=None,
        description="The person's language (the console's and their e-mails'); null: the "
        "organization's default.",
    )


class UserRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    organization_id: uuid.UUID
    email: str
    display_name: str | None
    roles: list[Role]
    is_active: bool
    locale: str | None = Field(default=None, description="The person's own language.")
    created_at: datetime
    last_login_at: datetime | None
    erased_at: datetime | None


class UserCreated(UserRead):
    invitation_token: str | None = Field(
        default=None, description="Give this to the person; it lets them set a password once."
    )


class InvitationAccept(BaseModel):
    token: str = Field(min_length=10, max_length=200)
    password: Password


class CandidateCreate(BaseModel):
    external_id: str | None = Field(default=None, min_length=1, max_length=200)
    full_name: str = Field(min_length=1, max_length=200)
    email: EmailStr | None = None
    group: str | None = Field(
        default=None,
        min_length=1,
        max_length=100,
        description="A group the organization defines (site, cohort...); the integrity "
        "fairness report gives flag and decision rates per group.",
    )
    locale: LocaleCode | None = Field(
        default=None,
        description="The candidate's language, used when the administration offers it; "
        "null: the administration's.",
    )


class CandidateUpdate(PatchModel):
    nullable = frozenset({"external_id", "email", "group", "locale"})

    external_id: str | None = Field(default=None, min_length=1, max_length=200)
    full_name: str | None = Field(default=None, min_length=1, max_length=200)
    email: EmailStr | None = None
    group: str | None = Field(
        default=None,
        min_length=1,
        max_length=100,
        description="A group the organization defines (site, cohort...); the integrity "
        "fairness report gives flag and decision rates per group.",
    )
    locale: LocaleCode | None = Field(
        default=None,
        description="The candidate's language, used when the administration offers it; "
        "null: the administration's.",
    )


class CandidateRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    organization_id: uuid.UUID
    external_id: str | None
    full_name: str | None
    email: str | None
    group: str | None = None
    locale: str | None = Field(default=None, description="The candidate's language.")
    created_at: datetime
    erased_at: datetime | None
