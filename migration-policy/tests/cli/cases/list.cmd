# The strategy and workload registries the harness checks itself against.
list --help
list
list --json
list extra
