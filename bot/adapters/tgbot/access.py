"""Who may use the bot: roles from config, by Telegram user id or allowed group chat."""

from __future__ import annotations

from enum import IntEnum

from bot.config import TelegramSettings


class Role(IntEnum):
    """Each role may do everything the ones below it may."""

    NONE = 0
    STAFF = 1  # may ask
    REVIEWER = 2  # also sees knowledge gaps
    ADMIN = 3  # also reindexes and uploads documents


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
