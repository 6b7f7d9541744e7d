"""Hooks: the only layer that does HTTP."""
