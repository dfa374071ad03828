"""Plumbing every domain shares and that knows no domain: settings, the database and its
unit of work, errors as problem+json, tenancy scoping, background tasks, blob storage,
logging, tracing, security helpers, pagination and health probes."""
