"""The distribution installs every package under the ``fanet`` namespace, editable and as a wheel."""

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
PACKAGES = ("proto", "firmware_bridge", "gateway", "server", "hardware")


def test_editable_install_maps_folders_into_the_namespace() -> None:
    import fanet
    import fanet.proto

    assert Path(fanet.proto.__file__).resolve() == (ROOT / "proto" / "__init__.py").resolve()
    assert Path(fanet.__file__).resolve() == (ROOT / "cli" / "__init__.py").resolve()


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A wheel built the way a release is built (``uv build``; ``uv run`` says where uv is in $UV)."""
    out = tmp_path_factory.mktemp("dist")
    uv = os.environ.get("UV") or shutil.which("uv")
    if uv is None:
        pytest.fail("uv is needed to build the wheel: run the tests with `make test` (or `uv run pytest`)")
    subprocess.run(
        [uv, "build", "--wheel", "--out-dir", str(out), str(ROOT)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (built,) = out.glob("fanet-*.whl")
    return built


@pytest.mark.integration
def test_wheel_holds_only_the_fanet_namespace(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    top_level = {name.split("/")[0] for name in names if not name.split("/")[0].endswith(".dist-info")}
    assert top_level == {"fanet"}
    for package in PACKAGES:
        assert f"fanet/{package}/__init__.py" in names
        assert f"fanet/{package}/py.typed" in names
    assert "fanet/proto/fanet.proto" in names
    assert "fanet/data/real-frames.jsonl" in names


@pytest.mark.integration
def test_gateway_extra_leaves_out_the_server_stack(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        metadata = next(archive.read(n).decode() for n in archive.namelist() if n.endswith("METADATA"))
    requires = [line for line in metadata.splitlines() if line.startswith("Requires-Dist:")]
    gateway = [line for line in requires if 'extra == "gateway"' in line]
    assert any("paho-mqtt" in line for line in gateway)
    assert any("pyserial" in line for line in gateway)
    for heavy in ("hypercorn", "quart", "redis"):
        assert not any(heavy in line for line in gateway), heavy
        assert any(heavy in line and 'extra == "server"' in line for line in requires), heavy


@pytest.mark.integration
def test_wheel_imports_from_a_fresh_environment(wheel: Path, tmp_path: Path) -> None:
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "zipfile", "-e", str(wheel), str(target)], check=True, timeout=60)
    probe = (
        "import fanet.proto, fanet.firmware_bridge, fanet.gateway, fanet.server, fanet.hardware;"
        "print(fanet.proto.decode_frame(bytes.fromhex('0211900b41')).payload.name)"
    )
    # Run from an empty folder, with only the unpacked wheel on the path: nothing from the repository.
    result = subprocess.run(
        [sys.executable, "-I", "-c", f"import sys; sys.path.insert(0, {str(target)!r}); {probe}"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "A"
