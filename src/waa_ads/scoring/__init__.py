"""Scoring: response processing (``engine``, and ``vectorized`` for many responses to one
item at once; both pure), the scorers built on it behind one protocol, result revisions that
are never overwritten, release and withholding, answer-key corrections, and result exports
(CSV, QTI results). ``policy`` (how item scores make a total) is pure."""
