"""Rubric documents: ``document`` parses and checks YAML/JSON rubrics against the JSON Schema
beside it (``rubric.schema.json``) and computes their maxima."""
