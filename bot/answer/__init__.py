"""Answering: from a question to ranked, trimmed, highlighted citations and a decision."""
