"""One module per Metabase API area; importing a module registers its routes."""
