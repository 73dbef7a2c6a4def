"""Command line: `rutinbot index | ask | chat | docs | telegram | gaps | serve`.

`root` holds the group and the shared error handling; `index`, `asking`, `gaps` and `serving`
hold the commands, registered below, so importing this package gives the whole command line.
"""

from bot.cli.root import cli, main, register_commands

register_commands()

__all__ = ["cli", "main"]
