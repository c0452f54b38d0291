"""Entry point of an output process: `python -m tomato.outputs --serve SOCKET` (a server
the service supervises; an OutputServerConfig on its standard input), or `python -m
tomato.outputs` with one MakeOutputs (msgpack, as on the wire) on its standard input: that
job's outputs, once; their paths as JSON on stdout."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from tomato.actors import read_config

from ..childconfig import OutputServerConfig
from ..codec import CODEC
from ..errors import OutputError
from ..processmessages import MakeOutputs


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tomato.outputs")
    parser.add_argument("--serve", type=Path, metavar="SOCKET",
                        help="serve requests on SOCKET (an OutputServerConfig on standard "
                             "input)")
    args = parser.parse_args(argv)
    if args.serve:
        from .server import serve_outputs

        config = read_config(CODEC, OutputServerConfig)
        serve_outputs(args.serve, Path(config.supervisor) if config.supervisor else None,
                      config.orphan_grace)
        return
    from .server import make

    try:
        request = CODEC.decode(sys.stdin.buffer.read())
        if not isinstance(request, MakeOutputs):
            raise OutputError(f"expected MakeOutputs on standard input, got {request!r:.80}")
        made = make(request)
    except Exception as exc:
        print(str(exc).splitlines()[0], file=sys.stderr)
        sys.exit(1)
    print(json.dumps({"files": list(made.files), "notes": list(made.notes)}))


if __name__ == "__main__":
    main()
