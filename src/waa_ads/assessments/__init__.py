"""Assessments: definitions (sections, fixed items and selection rules, navigation, limits,
scoring and release policy), publishing that pins item versions, administrations with their
windows, rosters, accommodations and access codes. ``definition`` and ``assembly`` (building
a candidate's form from a seed) are pure."""
