"""Each kind plugin: normalize cases, the plugin contract, export and import of its objects."""
