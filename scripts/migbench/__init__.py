"""migbench: the migration harness (stdlib only). See docs/harness.md."""
