"""`cnnzoo models [PATTERN]`: the zoo, with counted parameters and mult-adds."""

from __future__ import annotations

import argparse
import json

from ..errors import ConfigError


def si(n: float) -> str:
    """1234567 -> '1.23M' (K, M, G: powers of 1000)."""
    for unit, scale in (("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if abs(n) >= scale:
            return f"{n / scale:.3g}{unit}"
    return f"{n:.0f}"


def run(args: argparse.Namespace) -> int:
    from ..analysis.zoo_table import zoo_rows
    rows = zoo_rows(args.pattern, family=args.family, mult_adds=not args.no_mult_adds)
    if not rows:
        raise ConfigError(f"no model matches {args.pattern!r}" + (f" in family {args.family!r}" if args.family else ""))
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    header = f"{'name':<24} {'family':<16} {'params':>13} {'mult-adds':>10}  {'input':<10} {'top-1 err':>9}  paper"
    print(header)
    print("-" * len(header))
    for r in rows:
        madds = si(r["mult_adds"]) if r.get("mult_adds") else "-"
        err = f"{r['top1_err']:.2f}%" if r["top1_err"] is not None else "-"
        name = f"{r['name']} (= {r['alias_of']})" if r["alias_of"] else r["name"]
        print(f"{name:<24} {r['family']:<16} {r['params']:>13,} {madds:>10}  {r['input']:<10} {err:>9}  "
              f"{r['paper']} ({r['year']})")
    print(f"\n{len(rows)} models; mult-adds: one multiply-add = one operation (FLOPs = 2 x mult-adds), "
          f"one image at the input size shown; params: all, with training-only auxiliary classifiers")
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("models", help="list the zoo with parameters and mult-adds",
                       description="Every registered variant with its parameters and mult-adds (counted, not "
                                   "quoted), default input and published ImageNet top-1 error.")
    p.add_argument("pattern", nargs="?", default="*", help="shell-style name filter, e.g. 'resnet*'")
    p.add_argument("--family", help="only this family (the models/<family>.py module)")
    p.add_argument("--no-mult-adds", action="store_true", help="skip counting mult-adds (faster)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=run)