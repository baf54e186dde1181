"""mbport's built-in plugins: one module per Metabase resource kind, registered under `mbport.plugins`."""
