"""Tests of webapp/analysis/."""
