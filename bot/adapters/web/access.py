"""Who may open each route: every endpoint declares its roles, and undeclared means refused."""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import TypeVar

F = TypeVar("F", bound=Callable)
ATTRIBUTE = "allowed_roles"


class WebRole(StrEnum):
    """Who is asking: a stranger, or an account of the accounts file with its role."""

    STRANGER = "stranger"  # no live session: no cookie, a forged one, or one that has expired
    STAFF = "staff"  # the chat only
    REVIEWER = "reviewer"  # the chat and the knowledge gaps
    ADMIN = "admin"  # everything


ACCOUNT_ROLES = (WebRole.STAFF, WebRole.REVIEWER, WebRole.ADMIN)
EVERYONE = frozenset(WebRole)
MEMBERS = frozenset(ACCOUNT_ROLES)  # any logged-in account
REVIEWERS = frozenset({WebRole.REVIEWER, WebRole.ADMIN})
ADMINS = frozenset({WebRole.ADMIN})  # document administration: add, remove, reindex
# Mounted apps are not routes with endpoints; their roles are declared here.
MOUNTS = {"/static": EVERYONE}


def allow(roles: frozenset[WebRole]) -> Callable[[F], F]:
    """Declare who may call an endpoint; `authorise` in app.py enforces it for every route."""

    def declare(endpoint: F) -> F:
        setattr(endpoint, ATTRIBUTE, frozenset(roles))
        return endpoint

    return declare


def allowed_roles(endpoint: object) -> frozenset[WebRole] | None:
    """The roles an endpoint declared, or None when it declared none (then nobody gets in)."""
    return getattr(endpoint, ATTRIBUTE, None)
