"""Integrity: policies with rules in YAML, per-attempt signals from browser events and the
save history, answer similarity per administration, flags with their evidence, and
reviewers' decisions (``rules``, ``signals`` and ``similarity`` are pure)."""
