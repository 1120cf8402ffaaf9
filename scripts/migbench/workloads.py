"""Guest workload specs (the `mpwl=` kernel argument) and short aliases."""

# Short names used in the bench matrix and the baseline preset.
ALIASES = {
    "idle": "idle",
    "wh64": "memload:w=64",
    "wh256": "memload:w=256",
    # N=2000: 2000*2000*8 B = 32 MB of matrix, fits a 1 GiB guest and
    # completes rounds under TCG within seconds.
    "linpack": "linpack:n=2000,lda=2000",
}

# How long `verify` may take to answer: linpack answers after its next full
# round, which takes tens of seconds under TCG.
VERIFY_TIMEOUT_S = {"idle": 30, "memload": 90, "linpack": 300}


def resolve(spec):
    """Alias or full spec -> (alias-or-None, full spec, name, params dict)."""
    full = ALIASES.get(spec, spec)
    name, _, rest = full.partition(":")
    params = {}
    if rest:
        for kv in rest.split(","):
            if not kv:
                continue
            k, _, v = kv.partition("=")
            try:
                params[k] = int(v)
            except ValueError:
                try:
                    params[k] = float(v)
                except ValueError:
                    params[k] = v
    if name not in VERIFY_TIMEOUT_S:
        raise ValueError("unknown workload %r (idle, memload:..., linpack:...; "
                         "aliases %s)" % (spec, ", ".join(ALIASES)))
    return (spec if spec in ALIASES else None), full, name, params


def split_list(text):
    """'idle,memload:w=8,r=4,linpack' -> ['idle', 'memload:w=8,r=4', 'linpack']:
    a comma-separated list where a bare k=v item continues the previous spec."""
    out = []
    for tok in text.split(","):
        tok = tok.strip()
        if not tok:
            continue
        if out and "=" in tok and ":" not in tok and tok not in ALIASES:
            out[-1] += "," + tok
        else:
            out.append(tok)
    return out
