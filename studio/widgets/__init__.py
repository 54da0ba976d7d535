"""Reusable widgets: face grids, image views, loss plots."""
