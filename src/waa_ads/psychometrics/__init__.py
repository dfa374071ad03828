"""Psychometrics: classical item analysis and item response theory (calibration, ability
estimation, information), as pure numerics over matrices of item scores."""
