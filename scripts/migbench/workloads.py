"""Guest workload specs (the `mpwl=` kernel argument) and short aliases.

The workload kinds, their parameters, verify times and the aliases are the
library's (`migpolicy list --json`, see registry.py): a workload is added
there, not here."""
from . import registry


def aliases():
    """{alias: full spec} ("wh64": "memload:w=64")."""
    return dict(registry.load()["workload_aliases"])


def kinds():
    """{kind name: its registry entry (params, description, verify_timeout_s)}."""
    return {w["name"]: w for w in registry.load()["workloads"]}


def verify_timeout_s(name):
    """How long the guest program of kind @name may take to answer `verify`."""
    return kinds()[name]["verify_timeout_s"]


def resolve(spec):
    """Alias or full spec -> (alias-or-None, full spec, name, params dict)."""
    al = aliases()
    full = al.get(spec, spec)
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
    if name not in kinds():
        raise ValueError("unknown workload %r (kinds %s; aliases %s)" % (
            spec, ", ".join(kinds()), ", ".join(al)))
    return (spec if spec in al else None), full, name, params


def split_list(text):
    """'idle,memload:w=8,r=4,linpack' -> ['idle', 'memload:w=8,r=4', 'linpack']:
    a comma-separated list where a bare k=v item continues the previous spec."""
    out = []
    al = aliases()
    for tok in text.split(","):
        tok = tok.strip()
        if not tok:
            continue
        if out and "=" in tok and ":" not in tok and tok not in al:
            out[-1] += "," + tok
        else:
            out.append(tok)
    return out
