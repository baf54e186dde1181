"""mbport verify: pairing, comparison of objects and rows, reports."""
