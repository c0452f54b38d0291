"""Entry point of an output process: `python -m tomato.outputs --serve SOCKET` (a server
the service supervises), or `--jobdir D --out O --prefix P` (one job's outputs, once)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .build import build_outputs, one_line


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tomato.outputs")
    parser.add_argument("--serve", type=Path, help="serve requests on this socket")
    parser.add_argument("--jobdir", type=Path)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--prefix")
    parser.add_argument("--status", default=None)
    args = parser.parse_args(argv)
    if args.serve:
        from .server import serve_outputs

        serve_outputs(args.serve)
        return
    try:
        datagram, archive = build_outputs(args.jobdir, args.out, args.prefix, status=args.status)
    except Exception as exc:
        print(one_line(exc), file=sys.stderr)
        sys.exit(1)
    print(json.dumps({"datagram": str(datagram), "archive": str(archive)}))


if __name__ == "__main__":
    main()
