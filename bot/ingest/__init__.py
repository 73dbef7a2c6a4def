"""Ingest stage: read files, clean their text and cut it into chunks."""
