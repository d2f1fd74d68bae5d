"""Organisations, people, their roles and authorisations, stations and bearer tokens."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, EmailStr
from pydantic import Field as PField
from sqlmodel import Field, SQLModel

from labctl.platform.models.base import OrgLevel, Role, str_field, utc_field

CODE_PATTERN = r"^[A-Z0-9][A-Z0-9_-]{1,31}$"
#: What a password must be (checked by ``auth.check_password``; said in every refusal).
PASSWORD_RULES = ("10 to 256 characters, not only whitespace, at least 5 different "
                  "characters, and not containing the username")
#: Bounds of a station token's lifetime, in days (a bench re-enrolled at least every 2 years).
STATION_TOKEN_DAYS = (1, 730)


class Organisation(SQLModel, table=True):
    """A national institute, provincial institute, local or industrial laboratory, or customer."""

    __tablename__ = "organisation"
    id: int | None = Field(default=None, primary_key=True)
    code: str = str_field(32, unique=True, index=True)  # short, used in certificate numbers
    name: str = str_field(200)
    level: str = str_field(16)  # OrgLevel
    parent_id: int | None = Field(default=None, foreign_key="organisation.id", index=True)
    region: str = str_field(100, default="")
    country_code: str = str_field(2, default="")
    address: str = str_field(500, default="")
    accreditation: str = str_field(100, default="")
    created_at: datetime = utc_field(default_now=True)


class User(SQLModel, table=True):
    __tablename__ = "user_account"
    id: int | None = Field(default=None, primary_key=True)
    username: str = str_field(64, unique=True, index=True)
    full_name: str = str_field(200)
    email: str = str_field(200, default="")
    password_hash: str = str_field(200)
    is_active: bool = True
    #: The bootstrap administrator created from the command line: admin everywhere.
    is_superuser: bool = False
    created_at: datetime = utc_field(default_now=True)


class Membership(SQLModel, table=True):
    """One role of one user in one organisation (admins also act on the organisations below)."""

    __tablename__ = "membership"
    __table_args__ = (sa.UniqueConstraint("user_id", "organisation_id", "role"),)
    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user_account.id", index=True)
    organisation_id: int = Field(foreign_key="organisation.id", index=True)
    role: str = str_field(16)  # Role
    granted_by_id: int | None = Field(default=None, foreign_key="user_account.id")
    created_at: datetime = utc_field(default_now=True)


class Authorisation(SQLModel, table=True):
    """A person authorised to perform calibrations of a quantity (by a procedure) for a period."""

    __tablename__ = "authorisation"
    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user_account.id", index=True)
    organisation_id: int = Field(foreign_key="organisation.id", index=True)
    quantity: str = str_field(100)
    procedure: str = str_field(100, default="")  # "" = any procedure for the quantity
    valid_from: date
    valid_until: date
    granted_by_id: int | None = Field(default=None, foreign_key="user_account.id")
    created_at: datetime = utc_field(default_now=True)


class Station(SQLModel, table=True):
    """An automated bench that posts results with its own bearer token."""

    __tablename__ = "station"
    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = Field(foreign_key="organisation.id", index=True)
    name: str = str_field(100)
    created_by_id: int | None = Field(default=None, foreign_key="user_account.id")
    created_at: datetime = utc_field(default_now=True)


class ApiToken(SQLModel, table=True):
    """A bearer token, stored as the SHA-256 of its 256-bit random secret (never in clear)."""

    __tablename__ = "api_token"
    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = str_field(64, unique=True, index=True)
    user_id: int | None = Field(default=None, foreign_key="user_account.id", index=True)
    station_id: int | None = Field(default=None, foreign_key="station.id", index=True)
    created_at: datetime = utc_field(default_now=True)
    #: Always set when issued; a row without it is refused (it was not made by the platform).
    expires_at: datetime | None = utc_field(nullable=True, default=None)
    revoked_at: datetime | None = utc_field(nullable=True, default=None)


class LoginThrottle(SQLModel, table=True):
    """Failed logins counted per username and per client address, and the lock they lead to.

    Kept in the database (not in a process), so a lock holds across restarts and between
    workers. A username is counted whether or not an account has it, so a lock says nothing
    about which usernames exist.
    """

    __tablename__ = "login_throttle"
    __table_args__ = (sa.UniqueConstraint("scope", "key"),)
    id: int | None = Field(default=None, primary_key=True)
    scope: str = str_field(16)  # "username" | "address"
    key: str = str_field(255)
    failures: int = 0
    window_start: datetime = utc_field()
    last_failure_at: datetime = utc_field()
    locked_until: datetime | None = utc_field(nullable=True, default=None)


# --- API schemas ---------------------------------------------------------------------------


class OrganisationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: str = PField(pattern=CODE_PATTERN, description="Short unique code, e.g. 'NIM' or 'LAB1'")
    name: str = PField(min_length=1, max_length=200)
    level: OrgLevel
    parent_code: str | None = PField(default=None, pattern=CODE_PATTERN,
                                     description="Code of the parent organisation")
    region: str = PField(default="", max_length=100)
    country_code: str = PField(default="", pattern=r"^([A-Z]{2})?$")
    address: str = PField(default="", max_length=500)
    accreditation: str = PField(default="", max_length=100)


class OrganisationPublic(BaseModel):
    code: str
    name: str
    level: OrgLevel
    parent_code: str | None
    region: str
    country_code: str
    accreditation: str


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str = PField(pattern=r"^[A-Za-z0-9_.@-]{3,64}$")
    full_name: str = PField(min_length=1, max_length=200)
    email: EmailStr | Literal[""] = PField(default="", max_length=200,
                                           description="An e-mail address, or empty")
    #: Checked in the service (``auth.check_password``) so a refusal never echoes it.
    password: str = PField(max_length=256, description=PASSWORD_RULES[:1].upper()
                           + PASSWORD_RULES[1:])
    roles: list[Role] = PField(default_factory=list, description="Roles in the organisation")


class RoleGrant(BaseModel):
    model_config = ConfigDict(extra="forbid")
    organisation_code: str
    role: Role


class MembershipPublic(BaseModel):
    organisation_code: str
    role: Role


class UserPublic(BaseModel):
    username: str
    full_name: str
    email: str
    is_active: bool
    roles: list[MembershipPublic]


class AuthorisationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    quantity: str = PField(min_length=1, max_length=100)
    procedure: str = PField(default="", max_length=100)
    valid_from: date
    valid_until: date


class AuthorisationPublic(BaseModel):
    id: int
    username: str
    organisation_code: str
    quantity: str
    procedure: str
    valid_from: date
    valid_until: date


class TokenRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str = PField(min_length=1, max_length=64)
    password: str = PField(min_length=1, max_length=256)


class TokenPublic(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_at: datetime | None


class PasswordChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    current_password: str = PField(max_length=256)
    new_password: str = PField(max_length=256, description=PASSWORD_RULES[:1].upper()
                               + PASSWORD_RULES[1:])


class StationTokenCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    valid_days: int = PField(default=365, ge=STATION_TOKEN_DAYS[0], le=STATION_TOKEN_DAYS[1],
                             description="Days until the token expires (1 to 730)")


class StationCreate(StationTokenCreate):
    name: str = PField(min_length=1, max_length=100)


class StationToken(BaseModel):
    station_id: int
    name: str
    organisation_code: str
    access_token: str
    token_type: str = "bearer"
    expires_at: datetime
