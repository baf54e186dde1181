"""`mbport verify`: prove a migration or a restore by comparing two live instances object by object and row by row."""

from .engine import run_verify
from .result import VerifyResult

__all__ = ["VerifyResult", "run_verify"]
