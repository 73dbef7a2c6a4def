"""Who may use the bot: roles from config, and each handler's declared allowed roles."""

from __future__ import annotations

from collections.abc import Callable
from enum import IntEnum
from typing import TypeVar

from telegram import Update
from telegram.ext import BaseHandler

from bot.config import TelegramSettings

F = TypeVar("F", bound=Callable)
ATTRIBUTE = "allowed_roles"


class Role(IntEnum):
    """Each role may do everything the ones below it may."""

    NONE = 0
    STAFF = 1  # may ask
    REVIEWER = 2  # also sees knowledge gaps
    ADMIN = 3  # also reindexes and uploads documents


EVERYONE = frozenset(Role)  # only the gate itself: it is what tells a stranger no
MEMBERS = frozenset({Role.STAFF, Role.REVIEWER, Role.ADMIN})
REVIEWERS = frozenset({Role.REVIEWER, Role.ADMIN})
ADMINS = frozenset({Role.ADMIN})


def role_of(user_id: int, chat_id: int | None, settings: TelegramSettings) -> Role:
    """The role a user has in a chat: their own, or staff in a group that is allowed as a whole."""
    if user_id in settings.admins:
        return Role.ADMIN
    if user_id in settings.reviewers:
        return Role.REVIEWER
    if user_id in settings.staff:
        return Role.STAFF
    if chat_id is not None and chat_id != user_id and chat_id in settings.allowed_chats:
        return Role.STAFF
    return Role.NONE


def allow(roles: frozenset[Role]) -> Callable[[F], F]:
    """Declare who may reach a handler callback; the gate enforces it before the handler runs."""

    def declare(callback: F) -> F:
        setattr(callback, ATTRIBUTE, frozenset(roles))
        return callback

    return declare


def allowed_roles(callback: object) -> frozenset[Role] | None:
    """The roles a callback declared, or None when it declared none (then nobody gets in)."""
    return getattr(callback, ATTRIBUTE, None)


def handler_for(update: Update, handlers: list[BaseHandler]) -> BaseHandler | None:
    """The handler of this group that will take the update, as PTB itself picks it: the first
    whose check_update gives neither None nor False."""
    for handler in handlers:
        check = handler.check_update(update)
        if check is not None and check is not False:
            return handler
    return None
