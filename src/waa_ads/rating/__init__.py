"""Human rating: rating plans per administration, the raters' leased queue, rubric scoring
with double marking and adjudication, seeded quality checks, and agreement statistics
(``agreement`` and ``rules`` are pure)."""
