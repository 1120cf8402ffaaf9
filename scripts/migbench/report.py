"""Reporting records: median [min-max] cells, text and Markdown tables,
gnuplot data columns and runs (bench's `report`, scripts/zerocopy-bench
`report` and `anatomy-report`, scripts/policy-regret)."""
import shutil
import subprocess


def fmt_mmm(mmm, fmt, dash="-"):
    """(median, min, max) as 'med [min-max]' in `fmt` ('%.1f'), only 'med'
    where min == max, '-' where there is no median."""
    med, lo, hi = mmm
    if med is None:
        return "-"
    if lo == hi:
        return fmt % med
    return (fmt + " [" + fmt + dash + fmt + "]") % (med, lo, hi)


def text_table(rows):
    """Rows of strings (the head first) as left-aligned columns, two spaces
    apart."""
    widths = [max(len(x) for x in col) for col in zip(*rows)]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)) for r in rows)


def md_table(head, rows):
    """A Markdown table of strings; no newline after its last row."""
    return "| " + " | ".join(head) + " |\n|" + "---|" * len(head) + "\n" + "\n".join(
        "| " + " | ".join(r) + " |" for r in rows)


def dat_columns(mmm):
    """(median, min, max) as three gnuplot data columns; NaN for none."""
    med, lo, hi = mmm
    if med is None:
        return ["NaN"] * 3
    return ["%g" % med, "%g" % lo, "%g" % hi]


def find_gnuplot():
    """The gnuplot binary, or None."""
    return shutil.which("gnuplot")


def run_gnuplot(gp, lines):
    """Run a gnuplot script (a list of lines); the CompletedProcess."""
    return subprocess.run([gp], input="\n".join(lines + [""]), text=True,
                          capture_output=True)


_cairo = {}


def has_cairo(gp):
    """Whether this gnuplot has the pngcairo terminal."""
    if gp not in _cairo:
        r = subprocess.run([gp, "-e", "set terminal pngcairo"], capture_output=True,
                           text=True)
        _cairo[gp] = r.returncode == 0 and "unknown" not in r.stderr.lower()
    return _cairo[gp]
