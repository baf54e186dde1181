"""Reliability: faults, hostile trees, resumed imports and secrets that never leak."""
