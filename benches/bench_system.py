"""The GIL beside a Python thread, and memory over a long run.

Run: python benches/bench_system.py [--steps 1000000] [--out DIR]
See `tfdrive.benchmarks.system`.
"""

import argparse
from pathlib import Path

from tfdrive.benchmarks import common, system


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=1_000_000)
    parser.add_argument("--out", default="bench-results")
    args = parser.parse_args()
    results = {"gil": system.gil(), "memory": system.memory(steps=args.steps)}
    for result in results.values():
        print(f"\n### {result['title']}\n\n{result['table']}")
    print("\nmachine:", common.machine())
    print("wrote", common.write_json(Path(args.out) / "system.json", results))


if __name__ == "__main__":
    main()
