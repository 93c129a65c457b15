"""The front ends: the `lossguard` command and the flake8 plugin."""
