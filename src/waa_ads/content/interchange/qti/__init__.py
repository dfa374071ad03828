"""QTI XML: ``reader`` (2.1, 2.2 and 3.0 in), ``writer`` (3.0 out), ``package`` (IMS content
packages, read and written safely), and ``common`` (names, namespaces and templates both
directions share)."""
