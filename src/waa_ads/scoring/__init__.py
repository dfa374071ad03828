"""Scoring: response processing (``engine``, and ``vectorized`` for many responses to one
item at once), and the scorers built on it."""
