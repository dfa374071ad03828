"""The item bank: banks, items and their versions, media assets and rubrics.

The top level holds what touches the database or HTTP: the tables (``models.py``), the API's
request and reply models (``schemas.py``), the bank's rules and transactions (``service.py``;
``assets.py`` for media and rubrics; ``transfer.py`` for package import and export),
``sources.py`` (an item sent to the API as QTI or native text) and the routes
(``router.py``). The sub-packages are pure: they take and give values, never a session.

- ``item/``: what an item is (the immutable definition), the JSON shapes of responses,
  parsing and checking response-processing rules, cross-reference validation.
- ``interchange/``: formats: the QTI 2.x/3.0 reader and 3.0 writer, content packages, the
  native YAML/JSON format.
- ``render/``: sanitizing markup and turning an item into what a candidate sees (key-free).
- ``media/``: checking uploaded media (type sniffing, size and dimension limits, SVG
  sanitizing).
- ``rubrics/``: rubric documents (YAML), their JSON Schema and scoring arithmetic.

Sub-packages import one another only downward: ``item`` imports nothing of the others;
``render`` imports ``item``; ``media`` imports ``render`` (SVG sanitizing);
``interchange`` imports ``item``, ``render`` and ``media``; ``rubrics`` imports none.
"""
