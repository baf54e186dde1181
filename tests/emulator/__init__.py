"""The emulator behaves like Metabase: conformance, spec checks, cascades, profiles and serving."""
