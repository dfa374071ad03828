"""The audit trail: one SHA-256 hash chain per organization over RFC 8785 canonical events.
``chain`` is the pure hashing; ``service`` appends (``record``) and verifies. Every domain may
write here; nothing here imports a domain (its router only authorizes through auth)."""
