"""Delivery: attempts from start to end. Starting and resuming by access code, the frozen
form, server-owned time (``timers``, pure), the persisted lifecycle (``state_machine``,
pure), autosave with sequence numbers and full history, navigation, breaks, proctor actions,
integrity-event intake, and the expiry sweep. An ended attempt goes to scoring through the
named task ``scoring.score_attempt``; delivery never imports scoring."""
