"""mbport's tests: unit, emulator, plugins, end to end, reliability, verify and benchmark suites."""
