"""Generate the Python code for proto/ once (into timbre/v1/, not committed): `make proto`."""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def generate() -> None:
    import grpc_tools
    from grpc_tools import protoc

    files = sorted(str(p.relative_to(REPO / "proto")) for p in (REPO / "proto").rglob("*.proto"))
    well_known = str(Path(grpc_tools.__file__).parent / "_proto")
    out = REPO / "timbre" / "v1"
    out.mkdir(exist_ok=True)
    code = protoc.main([
        "grpc_tools.protoc", f"-I{REPO / 'proto'}", f"-I{well_known}",
        f"--python_out={REPO}", f"--pyi_out={REPO}", f"--grpc_python_out={REPO}", *files,
    ])
    if code != 0:
        sys.exit(code)
    (out / "__init__.py").write_text('"""Generated from proto/timbre/v1 by `make proto`; do not edit."""\n')


if __name__ == "__main__":
    generate()
