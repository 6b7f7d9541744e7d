"""Sensors: wait for vendor tasks submitted upstream or elsewhere, in any sensor mode."""
