"""A fake Telegram Bot API on 127.0.0.1: the real wire format, Telegram's rules, scripted updates.

It serves `/bot<token>/<method>` and `/file/bot<token>/<path>` as Telegram does, hands out
scripted updates through long-polling `getUpdates`, records every call the bot makes, and
rejects what Telegram would reject with the same 400 errors: a text over 4096 UTF-16 units after
parsing, HTML that Telegram can't parse, callback data over 64 bytes, a callback query answered
twice. It is stricter than Telegram in one way: a bare `&` or `>` outside a tag is refused
(Telegram shows them literally), so that text the bot forgot to escape is caught.

The server runs in its own thread and event loop; tests talk to it through thread-safe methods.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import itertools
import json
import re
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field

from aiohttp import web

TOKEN = "123456789:AAFakeTokenForTests_only-never-real"
BOT = {
    "id": 777000111,
    "is_bot": True,
    "first_name": "Rutinbot",
    "username": "rutinbot_test_bot",
    "can_join_groups": True,
    "can_read_all_group_messages": False,
    "supports_inline_queries": False,
}
MAX_TEXT = 4096
MAX_CAPTION = 1024
MAX_CALLBACK_DATA = 64
MAX_TOAST = 200
MAX_DOWNLOAD = 20 * 1024 * 1024  # getFile refuses larger files: bots can't download them
NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup are "
    "exactly the same as a current content and reply markup of the message"
)
_TAGS = {
    "a", "b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "code", "pre",
    "tg-spoiler", "span", "blockquote", "tg-emoji",
}  # fmt: skip
_ENTITY = re.compile(r"&(lt|gt|amp|quot|#\d{1,7}|#x[0-9a-fA-F]{1,6});")
_START_TAG = re.compile(
    r"<([a-zA-Z][a-zA-Z0-9-]*)((?:\s+[a-zA-Z-]+(?:\s*=\s*(?:\"[^\"]*\"|'[^']*'|[^\s>]+))?)*)\s*>"
)
_END_TAG = re.compile(r"</([a-zA-Z][a-zA-Z0-9-]*)\s*>")
_ATTR = re.compile(r"([a-zA-Z-]+)(?:\s*=\s*(?:\"([^\"]*)\"|'([^']*)'|([^\s>]+)))?")
_JSON_PARAMS = {
    "reply_markup", "entities", "caption_entities", "allowed_updates", "commands",
    "reply_parameters", "link_preview_options", "scope",
}  # fmt: skip


_DROPPED = object()


class ApiError(Exception):
    def __init__(self, code: int, description: str, parameters: dict | None = None) -> None:
        super().__init__(description)
        self.code, self.description, self.parameters = code, description, parameters


def utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def parse_html(text: str) -> str:
    """The plain text Telegram would show, or ApiError(400) where Telegram's parser fails."""

    def fail(reason: str, at: int) -> ApiError:
        offset = len(text[:at].encode())
        return ApiError(400, f"Bad Request: can't parse entities: {reason} at byte offset {offset}")

    out: list[str] = []
    stack: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "&":
            m = _ENTITY.match(text, i)
            if not m:
                raise fail("unescaped '&' (stricter than Telegram)", i)
            out.append(html.unescape(m.group(0)))
            i = m.end()
        elif ch == ">":
            raise fail("unescaped '>' (stricter than Telegram)", i)
        elif ch == "<":
            if text.startswith("</", i):
                m = _END_TAG.match(text, i)
                if not m:
                    raise fail("unexpected end of end tag", i)
                name = m.group(1).lower()
                if not stack:
                    raise fail(f'unexpected end tag "{name}"', i)
                if stack[-1] != name:
                    raise fail(
                        f'unmatched end tag, expected "</{stack[-1]}>", found "</{name}>"', i
                    )
                stack.pop()
                i = m.end()
                continue
            m = _START_TAG.match(text, i)
            if not m:
                raise fail("unexpected end of name token", i)
            name = m.group(1).lower()
            attrs = {a.group(1).lower(): next((g for g in a.groups()[1:] if g is not None), "")
                     for a in _ATTR.finditer(m.group(2))}  # fmt: skip
            if name not in _TAGS:
                raise fail(f'unsupported start tag "{name}"', i)
            if name == "a" and "href" not in attrs:
                raise fail('tag "a" must have attribute "href"', i)
            if name == "span" and attrs.get("class") != "tg-spoiler":
                raise fail('tag "span" must have class "tg-spoiler"', i)
            if (
                stack
                and stack[-1] in ("code", "pre")
                and not (stack[-1] == "pre" and name == "code")
            ):
                raise fail(f'entities can\'t be nested in "{stack[-1]}"', i)
            stack.append(name)
            i = m.end()
        else:
            out.append(ch)
            i += 1
    if stack:
        raise fail(f'can\'t find end tag corresponding to start tag "{stack[-1]}"', len(text))
    return "".join(out)


def check_markup(markup: object) -> None:
    """Inline keyboards as Telegram checks them: callback data of 1-64 bytes, non-empty text."""
    if markup is None:
        return
    if not isinstance(markup, dict) or "inline_keyboard" not in markup:
        raise ApiError(400, "Bad Request: unsupported reply markup in this fake")
    for row in markup["inline_keyboard"]:
        for button in row:
            if not button.get("text"):
                raise ApiError(
                    400, "Bad Request: text buttons are unallowed in the inline keyboard"
                )
            data = button.get("callback_data")
            if data is not None and not 1 <= len(data.encode()) <= MAX_CALLBACK_DATA:
                raise ApiError(400, "Bad Request: BUTTON_DATA_INVALID")


async def _gone(request: web.Request, patience: float = 2.0) -> bool:
    """Whether the bot has stopped waiting for this request. A client that timed out has closed
    its connection, but a busy event loop may not have processed that yet: give it a moment."""
    deadline = time.monotonic() + patience
    while True:
        if request.transport is None or request.transport.is_closing():
            return True
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(0.05)


@dataclass
class Call:
    """One request the bot made, with what the fake answered."""

    method: str
    params: dict
    status: int
    result: object
    at: float = field(default_factory=time.monotonic)
    unheard: bool = False  # answered after the bot had stopped waiting (see `delay_next`)

    @property
    def ok(self) -> bool:
        return self.status == 200


class FakeBotAPI:
    """Start with `with FakeBotAPI() as api:`; point the bot at `api.base_url`."""

    def __init__(self, token: str = TOKEN) -> None:
        self.token = token
        self.calls: list[Call] = []
        self.messages: dict[tuple[int, int], dict] = {}  # (chat id, message id) -> message
        self.files: dict[str, tuple[str, bytes]] = {}  # file id -> (name, content)
        self.file_sizes: dict[str, int] = {}  # file id -> size as Telegram reports it
        self._file_ids = itertools.count(1)
        self.webhook: dict | None = None
        self._cond = threading.Condition()
        self._updates: list[dict] = []
        self._update_ids = itertools.count(1)
        self._message_ids = itertools.count(1)
        self._query_ids = itertools.count(1)
        self._open_queries: set[str] = set()
        self._answered_queries: set[str] = set()
        self._failures: dict[str, list[ApiError]] = {}
        self._delays: dict[str, list[float]] = {}
        self._drop_polls = 0
        self._closing = False
        self.polls = 0  # getUpdates calls begun (a call is recorded only when it returns)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    # -- lifecycle ------------------------------------------------------------------------------

    def __enter__(self) -> FakeBotAPI:
        ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, args=(ready,), daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("fake Bot API did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(10)
        self._thread.join(10)

    def _serve(self, ready: threading.Event) -> None:
        self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self._loop)
        self._wake = asyncio.Event()
        app = web.Application()
        app.router.add_route("*", "/file/{prefix}/{path:.*}", self._file)
        app.router.add_route("*", "/{prefix}/{method}", self._api)
        self._runner = web.AppRunner(app, access_log=None)
        self._loop.run_until_complete(self._runner.setup())
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        self._loop.run_until_complete(site.start())
        self.port = site._server.sockets[0].getsockname()[1]
        ready.set()
        self._loop.run_forever()
        self._loop.close()

    async def _shutdown(self) -> None:
        self._closing = True  # end waiting long polls now, not when their timeout runs out
        self._wake.set()
        await self._runner.cleanup()
        self._loop.call_soon(self._loop.stop)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bot"

    @property
    def base_file_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/file/bot"

    # -- scripting ------------------------------------------------------------------------------

    def push(self, update: dict) -> int:
        """Queue an update for getUpdates; returns its update_id."""
        update = {"update_id": next(self._update_ids), **update}
        if "callback_query" in update:
            self._open_queries.add(update["callback_query"]["id"])

        def add() -> None:
            self._updates.append(update)
            self._wake.set()

        self._loop.call_soon_threadsafe(add)
        return update["update_id"]

    def fail_next(self, method: str, code: int = 429, retry_after: int | None = 1) -> None:
        """The next call of `method` fails once, e.g. with Telegram's flood-limit 429."""
        description = (
            f"Too Many Requests: retry after {retry_after}"
            if code == 429
            else {500: "Internal Server Error", 502: "Bad Gateway"}.get(code, "Error")
        )
        params = {"retry_after": retry_after} if retry_after and code == 429 else None
        self._failures.setdefault(method, []).append(ApiError(code, description, params))

    def delay_next(self, method: str, seconds: float) -> None:
        """The next call of `method` is answered only after `seconds` (then carried out as
        Telegram would: a message is sent even if the bot stopped waiting for the answer)."""
        self._delays.setdefault(method, []).append(seconds)

    def drop_polls(self, count: int = 1) -> None:
        """The next `count` getUpdates connections are cut without an answer (a network error)."""
        self._drop_polls += count
        self._loop.call_soon_threadsafe(self._wake.set)

    def deliver_webhook(self, update: dict, secret: str | None) -> int:
        """POST an update to the registered webhook as Telegram does; returns the HTTP status."""
        update = {"update_id": next(self._update_ids), **update}
        request = urllib.request.Request(
            self.webhook["url"],
            data=json.dumps(update).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        if secret is not None:
            request.add_header("X-Telegram-Bot-Api-Secret-Token", secret)
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status
        except urllib.error.HTTPError as err:
            return err.code

    # -- building updates -----------------------------------------------------------------------

    @staticmethod
    def user(user_id: int) -> dict:
        return {"id": user_id, "is_bot": False, "first_name": f"Användare {user_id}"}

    def message(
        self,
        user_id: int,
        text: str | None = None,
        chat_id: int | None = None,
        *,
        mention: bool = False,
        reply_to: dict | None = None,
        **content: object,
    ) -> dict:
        """A message update from a user; in a group when `chat_id` is negative."""
        chat_id = user_id if chat_id is None else chat_id
        chat = (
            {"id": chat_id, "type": "private", "first_name": f"Användare {user_id}"}
            if chat_id > 0
            else {"id": chat_id, "type": "group", "title": f"Grupp {chat_id}"}
        )
        message: dict = {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": chat,
            "from": self.user(user_id),
            **content,
        }
        if text is not None:
            entities = []
            if mention:
                text = f"@{BOT['username']} {text}"
                entities.append(
                    {"type": "mention", "offset": 0, "length": len(BOT["username"]) + 1}
                )
            if text.startswith("/"):
                length = len(text.split()[0])
                entities.append({"type": "bot_command", "offset": 0, "length": length})
            message["text"] = text
            if entities:
                message["entities"] = entities
        if reply_to is not None:
            message["reply_to_message"] = reply_to
        return {"message": message}

    def send(self, user_id: int, text: str | None = None, chat_id: int | None = None, **kw) -> dict:
        """Push a message from a user; returns the message, to match replies against."""
        update = self.message(user_id, text, chat_id, **kw)
        self.push(update)
        return update["message"]

    def user_file(self, name: str, content: bytes, size: int | None = None) -> dict:
        """A file as a user sends it (the `document` of their message), kept for getFile and
        download. `size` is the file_size Telegram reports, when not the content's own."""
        file_id = f"BQACAgIAAx{next(self._file_ids):06d}"
        self.files[file_id] = (name, content)
        self.file_sizes[file_id] = len(content) if size is None else size
        return {
            "file_id": file_id,
            "file_unique_id": f"u{file_id}",
            "file_name": name,
            "file_size": self.file_sizes[file_id],
        }

    def press(self, user_id: int, message: dict, data: str) -> str:
        """Push a tap on an inline button under `message`; returns the callback query id."""
        query_id = str(next(self._query_ids))
        query = {
            "id": query_id,
            "from": self.user(user_id),
            "chat_instance": str(message["chat"]["id"]),
            "message": message,
            "data": data,
        }
        self.push({"callback_query": query})
        return query_id

    # -- looking at what the bot did ------------------------------------------------------------

    def wait(self, predicate: Callable[[list[Call]], object], timeout: float = 15) -> object:
        """Wait until `predicate(calls)` is truthy; returns its value."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                value = predicate(list(self.calls))
                if value:
                    return value
                left = deadline - time.monotonic()
                if left <= 0:
                    methods = [c.method for c in self.calls][-30:]
                    raise AssertionError(f"timed out; last calls: {methods}")
                self._cond.wait(left)

    def sent(self, chat_id: int, calls: list[Call] | None = None) -> list[Call]:
        """Successful sendMessage and sendDocument calls to a chat, in order."""
        return [
            c
            for c in (self.calls if calls is None else calls)
            if c.ok
            and c.method in ("sendMessage", "sendDocument")
            and int(c.params["chat_id"]) == chat_id
        ]

    def wait_sent(self, chat_id: int, count: int = 1, timeout: float = 15) -> list[Call]:
        return self.wait(
            lambda calls: (s := self.sent(chat_id, calls)) and len(s) >= count and s, timeout
        )

    def wait_polls(self, count: int = 1, timeout: float = 15) -> None:
        """Wait until the bot has begun `count` long polls in all (from the first it is running)."""
        with self._cond:
            if not self._cond.wait_for(lambda: self.polls >= count, timeout):
                raise AssertionError(f"the bot began only {self.polls} of {count} polls")

    def calls_of(self, method: str) -> list[Call]:
        with self._cond:
            return [c for c in self.calls if c.method == method]

    def unanswered_queries(self) -> set[str]:
        return self._open_queries - self._answered_queries

    # -- the API --------------------------------------------------------------------------------

    async def _params(self, request: web.Request) -> dict:
        params: dict = dict(request.query)
        if request.content_type == "application/json":
            params.update(await request.json())
        elif request.can_read_body:
            for key, value in (await request.post()).items():
                if isinstance(value, web.FileField):
                    params[key] = {"filename": value.filename, "content": value.file.read()}
                else:
                    params[key] = value
        for key in _JSON_PARAMS & params.keys():
            if isinstance(params[key], str):
                params[key] = json.loads(params[key])
        return params

    async def _api(self, request: web.Request) -> web.StreamResponse:
        method = request.match_info["method"]
        params = await self._params(request)
        unheard = False
        try:
            if request.match_info["prefix"] != f"bot{self.token}":
                raise ApiError(401, "Unauthorized")
            delays = self._delays.get(method)
            if delays:
                await asyncio.sleep(delays.pop(0))
                request["delayed"] = True
                unheard = await _gone(request)
            failures = self._failures.get(method)
            if failures:
                raise failures.pop(0)
            handler = getattr(self, f"_m_{method}", None)
            if handler is None:
                raise ApiError(404, "Not Found")
            result = await handler(params, request)
        except ApiError as err:
            self._record(method, params, err.code, err.description)
            body = {"ok": False, "error_code": err.code, "description": err.description}
            if err.parameters:
                body["parameters"] = err.parameters
            return web.json_response(body, status=err.code)
        if result is _DROPPED:
            return web.Response()  # never arrives: the connection is gone
        self._record(method, params, 200, result, unheard=unheard)
        return web.json_response({"ok": True, "result": result})

    async def _file(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["prefix"] != f"bot{self.token}":
            return web.json_response(
                {"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401
            )
        for file_id, (name, content) in self.files.items():
            if request.match_info["path"] == f"documents/{file_id}/{name}":
                return web.Response(body=content)
        return web.json_response(
            {"ok": False, "error_code": 404, "description": "Not Found"}, status=404
        )

    def _record(
        self, method: str, params: dict, status: int, result: object, *, unheard: bool = False
    ) -> None:
        with self._cond:
            self.calls.append(Call(method, params, status, result, unheard=unheard))
            self._cond.notify_all()

    def _new_message(self, params: dict, **content: object) -> dict:
        chat_id = int(params["chat_id"])
        chat = (
            {"id": chat_id, "type": "private"}
            if chat_id > 0
            else {"id": chat_id, "type": "group", "title": f"Grupp {chat_id}"}
        )
        message = {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": chat,
            "from": BOT,
            **content,
        }
        if params.get("reply_markup"):
            message["reply_markup"] = params["reply_markup"]
        self.messages[(chat_id, message["message_id"])] = message
        return message

    @staticmethod
    def _text(params: dict, key: str, limit: int) -> str:
        raw = params.get(key, "")
        text = parse_html(raw) if params.get("parse_mode", "").upper() == "HTML" else raw
        if key == "text" and not text.strip():
            raise ApiError(400, "Bad Request: message text is empty")
        if utf16(text) > limit:
            raise ApiError(
                400,
                "Bad Request: message is too long"
                if key == "text"
                else "Bad Request: message caption is too long",
            )
        return text

    def _existing(self, params: dict) -> dict:
        key = (int(params["chat_id"]), int(params["message_id"]))
        if key not in self.messages:
            raise ApiError(400, "Bad Request: message to edit not found")
        return self.messages[key]

    async def _m_getMe(self, params: dict, request: web.Request) -> dict:
        return BOT

    async def _m_getUpdates(self, params: dict, request: web.Request) -> list[dict]:
        if self.webhook:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        with self._cond:
            self.polls += 1
            self._cond.notify_all()
        offset = int(params.get("offset") or 0)
        timeout = float(params.get("timeout") or 0)
        allowed = params.get("allowed_updates") or None
        deadline = time.monotonic() + timeout
        while True:
            # A delayed poll is not the one to cut: the drop is for the next poll the bot is
            # waiting on, whenever the delayed one arrived.
            if self._drop_polls and not request.get("delayed"):
                self._drop_polls -= 1
                request.transport.abort()  # the bot sees the connection drop mid-poll
                self._record("getUpdates", params, 0, "connection dropped")
                return _DROPPED
            if offset:
                self._updates = [u for u in self._updates if u["update_id"] >= offset]
            ready = [u for u in self._updates if not allowed or any(k in u for k in allowed)]
            left = deadline - time.monotonic()
            if ready or left <= 0 or self._closing:
                return ready[: int(params.get("limit") or 100)]
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), left)

    async def _m_sendMessage(self, params: dict, request: web.Request) -> dict:
        text = self._text(params, "text", MAX_TEXT)
        check_markup(params.get("reply_markup"))
        return self._new_message(params, text=text)

    async def _m_editMessageText(self, params: dict, request: web.Request) -> dict:
        message = self._existing(params)
        text = self._text(params, "text", MAX_TEXT)
        check_markup(params.get("reply_markup"))
        if text == message.get("text") and params.get("reply_markup") == message.get(
            "reply_markup"
        ):
            raise ApiError(
                400,
                NOT_MODIFIED,
            )
        message["text"] = text
        message.pop("reply_markup", None)
        if params.get("reply_markup"):
            message["reply_markup"] = params["reply_markup"]
        return message

    async def _m_editMessageReplyMarkup(self, params: dict, request: web.Request) -> dict:
        message = self._existing(params)
        markup = params.get("reply_markup") or None
        check_markup(markup)
        if markup == message.get("reply_markup"):
            raise ApiError(
                400,
                NOT_MODIFIED,
            )
        message.pop("reply_markup", None)
        if markup:
            message["reply_markup"] = markup
        return message

    async def _m_answerCallbackQuery(self, params: dict, request: web.Request) -> bool:
        query_id = params["callback_query_id"]
        if query_id not in self._open_queries or query_id in self._answered_queries:
            raise ApiError(
                400,
                "Bad Request: query is too old and response timeout expired or query ID is invalid",
            )
        if utf16(params.get("text", "")) > MAX_TOAST:
            raise ApiError(400, "Bad Request: MESSAGE_TOO_LONG")
        self._answered_queries.add(query_id)
        return True

    async def _m_sendChatAction(self, params: dict, request: web.Request) -> bool:
        if params.get("action") not in (
            "typing",
            "upload_document",
            "upload_photo",
            "record_voice",
        ):
            raise ApiError(400, "Bad Request: wrong parameter action in request")
        return True

    async def _m_sendDocument(self, params: dict, request: web.Request) -> dict:
        document = params.get("document")
        if isinstance(document, str) and document.startswith("attach://"):
            document = params.get(document.removeprefix("attach://"))
        if not isinstance(document, dict):
            raise ApiError(400, "Bad Request: there is no document in the request")
        caption = self._text(params, "caption", MAX_CAPTION)
        check_markup(params.get("reply_markup"))
        file_id = f"doc{len(self.files) + 1}"
        self.files[file_id] = (document["filename"], document["content"])
        info = {
            "file_id": file_id,
            "file_unique_id": f"u{file_id}",
            "file_name": document["filename"],
            "file_size": len(document["content"]),
        }
        return self._new_message(params, document=info, caption=caption)

    async def _m_getFile(self, params: dict, request: web.Request) -> dict:
        file_id = params.get("file_id", "")
        if file_id not in self.files:
            raise ApiError(400, "Bad Request: invalid file_id")
        name, content = self.files[file_id]
        size = self.file_sizes.get(file_id, len(content))
        if size > MAX_DOWNLOAD:
            raise ApiError(400, "Bad Request: file is too big")
        return {
            "file_id": file_id,
            "file_unique_id": f"u{file_id}",
            "file_size": size,
            "file_path": f"documents/{file_id}/{name}",
        }

    async def _m_setMyCommands(self, params: dict, request: web.Request) -> bool:
        for command in params.get("commands", []):
            if (
                not re.fullmatch(r"[a-z0-9_]{1,32}", command["command"])
                or not 1 <= len(command["description"]) <= 256
            ):
                raise ApiError(400, "Bad Request: BOT_COMMAND_INVALID")
        return True

    async def _m_setWebhook(self, params: dict, request: web.Request) -> bool:
        secret = params.get("secret_token")
        if secret is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", secret):
            raise ApiError(400, "Bad Request: secret token contains unallowed characters")
        self.webhook = {"url": params["url"], "secret_token": secret}
        return True

    async def _m_deleteWebhook(self, params: dict, request: web.Request) -> bool:
        self.webhook = None
        return True
