"""Comparing runs: what changed between two (diff), which runs (select), metric
declarations as comparisons use them, and their terminal views."""
