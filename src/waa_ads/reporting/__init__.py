"""Reports: candidate scorecards with verifiable receipts, cohort and item reports, bulk
generation, exports (docs/reporting.md)."""
