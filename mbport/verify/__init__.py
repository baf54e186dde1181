"""`mbport verify`: prove a migration or a restore by comparing two live instances object by object and row by row."""

from .engine import VerifyResult, run_verify

__all__ = ["VerifyResult", "run_verify"]
