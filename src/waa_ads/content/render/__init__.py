"""Markup a person sees: ``sanitize`` cleans item and media markup to an allow-list, and
``candidate`` renders an item for a candidate, with no answer key, mapping or rule in it."""
