"""End-to-end tests: the mbport command against emulated Metabase instances, in process and served."""
