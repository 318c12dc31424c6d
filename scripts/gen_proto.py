"""Generate the Python bindings of the client API schema: proto/fanet.proto → fanet_pb2.py and fanet_pb2.pyi.

    python scripts/gen_proto.py              # regenerate proto/fanet_pb2.py and proto/fanet_pb2.pyi
    python scripts/gen_proto.py --out DIR    # write the two files into DIR instead
    python scripts/gen_proto.py --check      # exit 1, naming the stale files, if they differ from a fresh run

The generated module is committed so that installing the package needs no protoc. protoc runs in-process from the
pinned grpcio-tools, with the mypy-protobuf plugin for the stub, so the bytes depend only on those two versions and
the schema; CI runs ``--check`` to catch a schema edited without regenerating.

The schema is compiled under the virtual path ``fanet/proto/fanet.proto``: the generated module then knows its
import name (``fanet.proto.fanet_pb2``, which pickling and the descriptor pool see) and no machine path leaks in.
"""

from __future__ import annotations

import argparse
import importlib.resources
import shutil
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from grpc_tools import protoc  # type: ignore[import-untyped]  # grpcio-tools ships no stubs

REPO = Path(__file__).resolve().parent.parent
PROTO_DIR = REPO / "proto"
SCHEMA = PROTO_DIR / "fanet.proto"
VIRTUAL_DIR = "fanet/proto"
"""Where the schema sits for protoc: mirrors the import path ``fanet.proto`` of the installed package."""
OUTPUTS = ("fanet_pb2.py", "fanet_pb2.pyi")


class GenerationError(RuntimeError):
    """protoc or its mypy plugin could not run, or rejected the schema (protoc's own message is on stderr)."""


def _mypy_plugin() -> str:
    """Path of mypy-protobuf's ``protoc-gen-mypy``, preferring the running interpreter's environment."""
    found = shutil.which("protoc-gen-mypy", path=str(Path(sys.executable).parent)) or shutil.which(
        "protoc-gen-mypy"
    )
    if found is None:
        raise GenerationError("protoc-gen-mypy not found: install the dev dependencies (uv sync)")
    return found


def generate(out_dir: Path) -> list[Path]:
    """Compile the schema and write ``fanet_pb2.py`` and ``fanet_pb2.pyi`` into *out_dir*; return their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    well_known = importlib.resources.files("grpc_tools") / "_proto"
    with tempfile.TemporaryDirectory() as tmp, importlib.resources.as_file(well_known) as include:
        argv = [
            "grpc_tools.protoc",
            f"--proto_path={VIRTUAL_DIR}={PROTO_DIR}",
            f"--proto_path={include}",
            f"--plugin=protoc-gen-mypy={_mypy_plugin()}",
            f"--python_out={tmp}",
            "--mypy_opt=quiet",
            f"--mypy_out={tmp}",
            f"{VIRTUAL_DIR}/{SCHEMA.name}",
        ]
        if protoc.main(argv) != 0:
            raise GenerationError(f"protoc failed on {SCHEMA.relative_to(REPO)} (see its message above)")
        written = []
        for name in OUTPUTS:
            target = out_dir / name
            shutil.copyfile(Path(tmp, VIRTUAL_DIR, name), target)
            written.append(target)
    return written


def stale_files(committed_dir: Path = PROTO_DIR) -> list[Path]:
    """The generated files in *committed_dir* that are missing or differ byte for byte from a fresh generation."""
    with tempfile.TemporaryDirectory() as tmp:
        fresh_dir = Path(tmp)
        generate(fresh_dir)
        return [
            committed_dir / name
            for name in OUTPUTS
            if not (committed_dir / name).is_file()
            or (committed_dir / name).read_bytes() != (fresh_dir / name).read_bytes()
        ]


def _shown(path: Path) -> str:
    """*path* relative to the working directory when it lies below it, for messages."""
    absolute = path.resolve()
    return str(absolute.relative_to(Path.cwd())) if absolute.is_relative_to(Path.cwd()) else str(absolute)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=f"Generate {' and '.join(OUTPUTS)} from {SCHEMA.relative_to(REPO)} "
        "(protoc from grpcio-tools, stub from mypy-protobuf)."
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=PROTO_DIR,
        metavar="DIR",
        help=f"directory of the generated files (default: {PROTO_DIR.relative_to(REPO)}/)",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 if the files in the output directory differ from a fresh generation",
    )
    args = parser.parse_args(argv)
    try:
        if args.check:
            stale = stale_files(args.out)
            for path in stale:
                problem = f"is stale: it differs from what {_shown(SCHEMA)} generates"
                print(f"{_shown(path)} {problem if path.is_file() else 'is missing'}", file=sys.stderr)
            if stale:
                print("Run `make proto` to regenerate, then commit the result.", file=sys.stderr)
                return 1
            return 0
        for path in generate(args.out):
            print(f"wrote {_shown(path)}")
    except GenerationError as exc:
        print(f"gen_proto: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
