"""What tests share, in one place: test modules import from here, never from each other.

- ``settings``: settings for tests (fixed secret, cheap Argon2id);
- ``services``: finding PostgreSQL, Redis and Chromium, skipping (or failing) without them;
- ``databases``: migrated templates, cheap copies, the rolled-back view a test works in;
- ``factories``: organizations, accounts and candidates made through the real services;
- ``items``, ``exams``: items and packages for banks; a published exam and its candidates;
- ``media``, ``packages``, ``qti3_schema``: media samples, content packages (well-formed
  and hostile), a schema of the QTI 3.0 we write;
- ``task_probes``, ``periodic_probes``: tasks the task tests run (Celery worker processes
  import them by name).
"""
