"""Request and response schemas of the accounts API."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from ninja import Field, Schema

from config.api_input import InputSchema


class TokenObtainIn(InputSchema):
    email: str = Field(..., min_length=1, max_length=254)
    password: str = Field(..., min_length=1, max_length=4096)


class TokenRefreshIn(InputSchema):
    refresh: str = Field(..., min_length=1, max_length=4096)


class TokenRevokeIn(InputSchema):
    token: str = Field(
        ..., min_length=1, max_length=4096, description="A refresh token or a personal API token"
    )


class TokenPairOut(Schema):
    access: str
    refresh: str
    token_type: Literal["Bearer"] = "Bearer"
    expires_in: int = Field(..., description="Seconds until the access token expires")


class AuthOut(Schema):
    kind: Literal["session", "access", "pat"]
    scopes: list[str]


class MeOut(Schema):
    id: int
    email: str
    name: str
    role: str
    can_trade: bool
    is_operator: bool
    auth: AuthOut


class ApiTokenIn(InputSchema):
    name: str = Field(..., min_length=1, max_length=80)
    scopes: list[Literal["read", "trade"]] = Field(..., min_length=1, max_length=2)
    expires_at: datetime | None = None


class ApiTokenOut(Schema):
    id: int
    name: str
    hint: str = Field(..., description="The token's first characters, to recognise it")
    scopes: list[str]
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None


class ApiTokenCreatedOut(ApiTokenOut):
    token: str = Field(..., description="The secret. Shown only in this response; store it now.")
