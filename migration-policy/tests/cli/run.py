#!/usr/bin/env python3
"""Golden-file tests for the migpolicy CLI.

Each tests/cli/cases/NAME.cmd holds one command per line (arguments after
'migpolicy', shell-split; '#' lines are comments; leading NAME=VALUE
words set the environment, a trailing '< FILE' is the standard input;
'@cat FILE' puts FILE's content, e.g. a CSV a command wrote, into the
transcript).  The commands
run in a fresh temporary directory holding copies of tests/cli/inputs/*.
Their transcript (each command, its stdout, its stderr, its exit status)
must equal NAME.stdout.exact byte for byte.  --regen rewrites the .exact
files.  --cases-dir and --inputs-dir point the same mechanism at other
cases (tests/data/ holds the regression fixture's).
"""
import argparse
import difflib
import os
import shlex
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))


def transcript(migpolicy, cmd_file, workdir):
    out = []
    with open(cmd_file) as f:
        for line in f:
            line = line.rstrip("\n")
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            args = shlex.split(line)
            if args[0] == "@cat":
                out.append("$ cat %s\n" % args[1])
                with open(os.path.join(workdir, args[1]), errors="replace") as f:
                    out.append(f.read())
                continue
            # NAME=VALUE words first: environment; '< FILE' last: stdin.
            env = dict(os.environ)
            while args and "=" in args[0] and not args[0].startswith("-"):
                k, v = args.pop(0).split("=", 1)
                env[k] = v
            stdin = subprocess.DEVNULL
            if len(args) >= 2 and args[-2] == "<":
                stdin = open(os.path.join(workdir, args[-1]), "rb")
                args = args[:-2]
            p = subprocess.run([migpolicy] + args, cwd=workdir, env=env,
                               stdin=stdin, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE)
            if stdin is not subprocess.DEVNULL:
                stdin.close()
            out.append("$ migpolicy %s\n" % line)
            out.append(p.stdout.decode("utf-8", "replace"))
            if p.stderr:
                out.append("[stderr]\n" + p.stderr.decode("utf-8", "replace"))
            out.append("[exit %d]\n" % p.returncode)
    return "".join(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--migpolicy", required=True, help="path of the binary")
    ap.add_argument("--regen", action="store_true",
                    help="rewrite the .stdout.exact files")
    ap.add_argument("--cases-dir", default=os.path.join(HERE, "cases"),
                    help="NAME.cmd and NAME.stdout.exact files (default: "
                    "tests/cli/cases)")
    ap.add_argument("--inputs-dir", default=os.path.join(HERE, "inputs"),
                    help="files copied into each case's directory (default: "
                    "tests/cli/inputs)")
    ap.add_argument("cases", nargs="*", help="case names (default: all)")
    args = ap.parse_args()
    migpolicy = os.path.abspath(args.migpolicy)
    case_dir = args.cases_dir
    names = args.cases or sorted(f[:-4] for f in os.listdir(case_dir)
                                 if f.endswith(".cmd"))
    failed = 0
    for name in names:
        with tempfile.TemporaryDirectory(prefix="migpolicy-cli-") as work:
            inputs = args.inputs_dir
            for f in sorted(os.listdir(inputs)):
                if os.path.isfile(os.path.join(inputs, f)):
                    shutil.copy(os.path.join(inputs, f), work)
            got = transcript(migpolicy, os.path.join(case_dir, name + ".cmd"),
                             work)
        exact = os.path.join(case_dir, name + ".stdout.exact")
        if args.regen:
            with open(exact, "w") as f:
                f.write(got)
            print("regenerated %s" % name)
            continue
        try:
            with open(exact) as f:
                want = f.read()
        except FileNotFoundError:
            want = None
        if got == want:
            print("ok   %s" % name)
            continue
        failed += 1
        print("FAIL %s" % name)
        sys.stdout.writelines(difflib.unified_diff(
            (want or "").splitlines(True), got.splitlines(True),
            exact, "actual"))
    if failed:
        print("%d of %d CLI case(s) failed; if the change is intended, run "
              "%s --migpolicy BIN%s --regen" % (
                  failed, len(names), sys.argv[0],
                  "" if args.cases_dir == os.path.join(HERE, "cases") else
                  " --cases-dir %s --inputs-dir %s" % (args.cases_dir,
                                                       args.inputs_dir)))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
