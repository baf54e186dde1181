"""Response shaping per Metabase area (hydration): what a GET of each kind returns, built from the models' rows."""
