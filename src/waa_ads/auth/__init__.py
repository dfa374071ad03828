"""Identity: organizations (the tenants), users and their roles, candidates, password and
cookie sessions, JWT access tokens with rotating refresh tokens, invitations, login limits,
and the ``Principal`` dependency every other router authorizes through."""
