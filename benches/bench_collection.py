"""PPO collection: batch sweep against the policy-only ceiling, observer cost, Python envs.

Run: python benches/bench_collection.py [--quick] [--out DIR]
See `tfdrive.benchmarks.collection`.
"""

import argparse
from pathlib import Path

from tfdrive.benchmarks import collection, common


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", choices=("sweep", "observers", "python"), default=None)
    parser.add_argument("--out", default="bench-results")
    args = parser.parse_args()
    repeats = 3 if args.quick else 7
    results = {}
    if args.only in (None, "sweep"):
        results["batch_sweep"] = collection.batch_sweep(
            seconds=0.3 if args.quick else 1.0, repeats=repeats
        )
    if args.only in (None, "observers"):
        results["observer_overhead"] = collection.observer_overhead(repeats=repeats + 2)
    if args.only in (None, "python"):
        results["python_envs"] = collection.python_envs(repeats=repeats)
    for result in results.values():
        print(f"\n### {result['title']}\n\n{result['table']}")
    print("\nmachine:", common.machine())
    print("wrote", common.write_json(Path(args.out) / "collection.json", results))


if __name__ == "__main__":
    main()
