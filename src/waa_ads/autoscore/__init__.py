"""Automated scoring of free-text answers.

The pure model library (``model``, ``features``, ``metrics``, ``gate``, ``csvio``,
``synthetic``) trains a per-item scoring model from human scores, cross-validates it against
those scores, attaches a calibrated (conformal) confidence to every prediction, screens out
answers unlike the training data, explains its scores and serializes itself without pickle.
The platform modules (registry tables, services, tasks, routes) store, gate, activate and
run those models inside an organization.
"""
