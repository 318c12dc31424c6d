"""The packaged page and client: vendored libraries with their licences, the generated schema in step with
fanet.proto, and every file the page and the modules refer to present."""

import hashlib
import re

from fanet.server.web.assets import PACKAGED_STATIC, load_assets
from fanet.server.web.schema import schema_module

VENDOR = PACKAGED_STATIC / "vendor"


def test_leaflet_is_vendored_at_its_pinned_version_with_its_licence() -> None:
    script = (VENDOR / "leaflet" / "leaflet.js").read_text(encoding="utf-8")
    assert script.startswith("/* @preserve\n * Leaflet 1.9.4,")
    licence = (VENDOR / "leaflet" / "LICENSE").read_text(encoding="utf-8")
    assert "BSD 2-Clause License" in licence and "Agafonkin" in licence
    for image in (
        "layers.png",
        "layers-2x.png",
        "marker-icon.png",
        "marker-icon-2x.png",
        "marker-shadow.png",
    ):
        assert (VENDOR / "leaflet" / "images" / image).is_file()


def test_the_vendor_readme_lists_every_vendored_file_with_its_checksum() -> None:
    readme = (VENDOR / "README.md").read_text(encoding="utf-8")
    listed = dict(re.findall(r"^\| `([^`]+)` \| `([0-9a-f]{64})` \|", readme, flags=re.M))
    files = {
        path.relative_to(VENDOR).as_posix()
        for path in VENDOR.rglob("*")
        if path.is_file() and path.name != "README.md"
    }
    assert set(listed) == files
    for name, digest in listed.items():
        assert hashlib.sha256((VENDOR / name).read_bytes()).hexdigest() == digest, name


def test_the_generated_schema_module_is_in_step_with_fanet_proto() -> None:
    committed = (PACKAGED_STATIC / "fanet-schema.js").read_text(encoding="utf-8")
    assert committed == schema_module(), (
        "static/fanet-schema.js is out of date: "
        "python -m fanet.server.web.schema server/web/static/fanet-schema.js"
    )


def test_the_schema_names_every_message_field_and_enum() -> None:
    from fanet.proto import fanet_pb2 as pb

    text = schema_module()
    for message in pb.DESCRIPTOR.message_types_by_name.values():
        assert f"  {message.name}: [" in text
        for field in message.fields:
            assert f'[{field.number}, "{field.name}", ' in text
    assert '"14": "GROUND_TYPE_DISTRESS_CALL"' in text
    assert 'DISTRESS_GROUND_TYPES = ["GROUND_TYPE_NEED_MEDICAL_HELP", ' in text


def test_every_file_the_page_and_the_modules_refer_to_is_served() -> None:
    assets = load_assets()
    page = assets["index.html"].body.decode("utf-8")
    referenced = set(re.findall(r'(?:src|href)="/static/([^"]+)"', page))
    assert {"map.js", "map.css", "vendor/leaflet/leaflet.js", "vendor/leaflet/leaflet.css"} <= referenced
    for path in [p for p in assets if p.endswith(".js") and not p.startswith("vendor/")]:
        text = assets[path].body.decode("utf-8")
        referenced |= set(re.findall(r'from "\./([^"]+)"', text))
    missing = {path for path in referenced if path not in assets}
    assert not missing, missing


def test_our_scripts_use_no_inline_styles_or_eval() -> None:
    # The page's policy has no 'unsafe-inline' and no 'unsafe-eval': such code would fail in the browser.
    for path in PACKAGED_STATIC.glob("*.js"):
        text = path.read_text(encoding="utf-8")
        for forbidden in ("eval(", "new Function", 'setAttribute("style"', "innerHTML", ".cssText"):
            assert forbidden not in text, f"{path.name} uses {forbidden}"
    page = (PACKAGED_STATIC / "index.html").read_text(encoding="utf-8")
    assert " style=" not in page and "onclick" not in page
