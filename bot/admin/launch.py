"""Starting `rutinbot index` as a process of its own, for the web page and Telegram."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import fields
from pathlib import Path
from typing import TYPE_CHECKING

from bot.filemodes import private_file, private_folder

if TYPE_CHECKING:
    from bot.config import Settings

LOG_NAME = "reindex.log"
SNAPSHOT_NAME = "reindex-config.toml"


def _toml_value(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, tuple | list):
        items = [_toml_value(v) for v in value]
        return "[" + ", ".join(i for i in items if i is not None) + "]"
    return json.dumps(str(value), ensure_ascii=False)  # a JSON string is a TOML basic string


def snapshot_settings(settings: Settings) -> Path:
    """The settings as a config file (0600, in the data folder) for a job process to read,
    when they were not read from one (tests, embedding applications)."""
    from bot.config import sections

    lines = []
    for name in sections():
        lines.append(f"[{name}]")
        table = getattr(settings, name)
        for f in fields(table):
            shown = _toml_value(getattr(table, f.name))
            if shown is not None:
                lines.append(f"{f.name} = {shown}")
    path = private_file(private_folder(settings.paths.data) / SNAPSHOT_NAME)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def spawn(config: Path, started_by: str, channel: str, data: Path) -> subprocess.Popen:
    """`rutinbot index` as a process of its own, output appended to <data>/reindex.log."""
    private_folder(data)
    log_path = private_file(data / LOG_NAME)
    command = [
        sys.executable,
        "-m",
        "bot",
        "--config",
        str(config),
        "index",
        "--by",
        started_by,
        "--channel",
        channel,
    ]
    with log_path.open("ab") as out:
        return subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
        )
