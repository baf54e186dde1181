"""Unit tests of the core modules: refs, tree, graph, state, client, config, output, registry, CLI."""
