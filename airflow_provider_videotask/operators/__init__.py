"""Operators: submit paid generation tasks once, wait, and hand the video URLs downstream."""
