"""From paths to findings: read and guard sources, lint one source, many files fast, fixes."""
