"""Tests of webapp/views/."""
