#!/usr/bin/python3
"""Runs symcheck in one process and under mpirun -np N with the same arguments and every output file, and
checks that they agree: exit status, text report and DOT identical; JSON, trace, SVG and saved .npy equal
except numbers, which may differ by 1e-12 relative (the sums over samples are grouped differently).
usage: compare_runs.py SYMCHECK MPIRUN N WORKDIR [--bitwise] [symcheck arguments...]
--bitwise: numbers must be equal too (runs mode computes each run whole, as the single process does)."""
import json, math, os, re, shutil, subprocess, sys

import numpy as np

RTOL = 1e-12  # the bound; the measured differences are ~1e-14 (docs/distributed.md)
NUMBER = re.compile(r"-?\d+\.?\d*(?:[eE][-+]?\d+)?")


def run(command, out_dir, args):
    shutil.rmtree(out_dir, ignore_errors=True)
    os.makedirs(out_dir)
    outputs = ["--json", f"{out_dir}/report.json", "--trace", f"{out_dir}/trace.csv", "--svg", f"{out_dir}/figure.svg",
               "--dot", f"{out_dir}/graph.dot", "--save", f"{out_dir}/saved"]
    p = subprocess.run(command + args + outputs, capture_output=True, text=True, timeout=300)
    return p.returncode, p.stdout, p.stderr


def close(a, b):
    return a == b or abs(a - b) <= RTOL * max(abs(a), abs(b))


def same_json(a, b, where="$"):
    if isinstance(a, float) or isinstance(b, float):
        if isinstance(a, (int, float)) and isinstance(b, (int, float)) and close(float(a), float(b)):
            return None
        return f"{where}: {a!r} != {b!r}"
    if type(a) is not type(b):
        return f"{where}: {a!r} != {b!r}"
    if isinstance(a, dict):
        if a.keys() != b.keys():
            return f"{where}: keys {sorted(a)} != {sorted(b)}"
        return next((e for k in a for e in [same_json(a[k], b[k], f"{where}.{k}")] if e), None)
    if isinstance(a, list):
        if len(a) != len(b):
            return f"{where}: length {len(a)} != {len(b)}"
        return next((e for i in range(len(a)) for e in [same_json(a[i], b[i], f"{where}[{i}]")] if e), None)
    return None if a == b else f"{where}: {a!r} != {b!r}"


def same_text_but_numbers(a, b):
    """Equal text around the numbers, and the numbers equal within RTOL."""
    if NUMBER.sub("#", a) != NUMBER.sub("#", b):
        return "text differs"
    for x, y in zip(NUMBER.findall(a), NUMBER.findall(b)):
        if not close(float(x), float(y)):
            return f"{x} != {y}"
    return None


def files_under(top):
    return sorted(os.path.relpath(os.path.join(d, f), top) for d, _, fs in os.walk(top) for f in fs)


def compare_saved(one, many):
    names = files_under(one)
    if names != files_under(many):
        return "--save wrote other files"
    for name in names:
        a, b = np.load(os.path.join(one, name)), np.load(os.path.join(many, name))
        scale = max(np.abs(a).max(), 1e-300)
        if a.shape != b.shape or np.abs(a - b).max() > RTOL * scale:
            return f"--save: {name} differs by {np.abs(a - b).max() / scale:.3g} relative"
    return None


def main():
    symcheck, mpirun, n, work = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
    args = sys.argv[5:]
    if args[:1] == ["--bitwise"]:
        global RTOL
        RTOL, args = 0.0, args[1:]
    single = run([symcheck], f"{work}/single", args)
    multi = run([mpirun, "--oversubscribe", "-np", n, symcheck], f"{work}/np{n}", args)
    one, many = f"{work}/single", f"{work}/np{n}"
    problems = []
    if single[0] != multi[0]:
        problems.append(f"exit status {single[0]} != {multi[0]}: {multi[2].strip()}")
    if single[1] != multi[1]:
        problems.append("text report differs:\n" + single[1] + "\n---\n" + multi[1])
    for name in ["report.json", "trace.csv", "figure.svg", "graph.dot"]:
        a, b = open(f"{one}/{name}").read(), open(f"{many}/{name}").read()
        if name == "graph.dot":
            diff = None if a == b else "differs"
        elif name == "report.json":
            diff = same_json(json.loads(a), json.loads(b))
        else:
            diff = same_text_but_numbers(a, b)
        if diff:
            problems.append(f"{name}: {diff}")
    saved = compare_saved(f"{one}/saved", f"{many}/saved")
    if saved:
        problems.append(saved)
    costs = [json.loads(open(f"{d}/report.json").read())["runs"][0]["final_cost"] for d in (one, many)]
    print(f"np {n}: exit {multi[0]}, final cost {costs[1]!r} vs {costs[0]!r} "
          f"(relative difference {abs(costs[1] - costs[0]) / abs(costs[0]):.2g})")
    for p in problems:
        print("MISMATCH", p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
