"""The staff console: server-rendered pages under ``/console`` for authors, administrators,
proctors and raters.

The console owns no data and no rules: every page reads, and every form changes, through
the JSON API called in process (:mod:`.gateway`), with the browser's cookie session and
CSRF token, so it is authorized exactly as the API is. :mod:`.pages` holds the layout,
forms and their errors; each area of the console is a module with a router of its own,
listed in :mod:`.areas`.
"""
