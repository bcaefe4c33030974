"""Utilities: a numpy-only nest module and nest helpers for arrays and tensors."""
