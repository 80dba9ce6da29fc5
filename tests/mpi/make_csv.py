#!/usr/bin/python3
"""Writes the CSV of the MPI tests: 600 rows, a numeric, a skewed and a categorical feature, some missing
values (so --missing mean imputes), and a 3-class label; fixed seed, so the file is the same on every run."""
import random, sys

rng = random.Random(15)
with open(sys.argv[1], "w") as f:
    f.write("age,income,city,kind\n")
    for i in range(600):
        age = rng.gauss(40, 12)
        income = rng.lognormvariate(10, 0.5)
        city = rng.choice(["north", "south", "east", "west"])
        kind = ["a", "b", "c"][(int(age) // 15 + len(city)) % 3] if rng.random() < 0.8 else rng.choice("abc")
        age_text = "" if i % 37 == 5 else f"{age:.2f}"
        f.write(f"{age_text},{income:.2f},{city},{kind}\n")
