"""Tests of webapp/services/."""
