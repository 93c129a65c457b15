"""Reporters: one module per output format. A reporter turns findings into text; it never runs
rules."""
