"""Document administration: add, replace, remove, restore, edit metadata, reindex, audit.

One core service (`AdminService`) that the CLI, the web page and Telegram call and only render.
"""
