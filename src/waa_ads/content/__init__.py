"""Content: the item model, QTI import and export, the native item format, response shapes
and response processing rules, media and rubrics."""
