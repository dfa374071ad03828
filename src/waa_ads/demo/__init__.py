"""The demo content ``waa-ads demo`` loads: an organization, a sample bank of every item
type with rubrics and media, a published assessment, an open administration and candidates.
It is a composition root: it uses the domains' services, and no domain imports it."""
