"""Message catalogues: one template per area and one folder per locale (see core.i18n)."""
