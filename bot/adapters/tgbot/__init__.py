"""Telegram front end: `build_application(...)` wires it; `serve(...)` runs it."""
