"""max_for_live/build.py: pack the patch into an .amxd, unpack it back, refuse bad input."""

import json
import os
import struct
import subprocess
import sys
from pathlib import Path

import pytest

DEVICE_DIR = Path(__file__).resolve().parents[2] / "max_for_live"
PATCH = DEVICE_DIR / "latentbridge.maxpat"


def build(*args, cwd=None):
    return subprocess.run([sys.executable, str(DEVICE_DIR / "build.py"), *map(str, args)],
                          capture_output=True, text=True, timeout=60, cwd=cwd)


# --- the frozen layout, written out here independently of build.py ------------------------------
# As in Ableton's frozen devices (maxdevtools' FrozenTest.amxd, Max 9; a Max 8.1 device): the
# 'ptch' payload is 'mx@c', u32 BE 16, u64 BE offset of the directory; then the files; then
# 'dlst' + u32 BE size, holding 'dire' records of type/fnam/sz32/of32/vers/flag/mdat fields
# (each: tag, u32 BE size counting its 8-byte header, data; names NUL-padded to 4 bytes).

def _rec(tag, data):
    return tag + struct.pack(">I", 8 + len(data)) + data


def frozen_fixture(entries, device_type=b"mmmm", meta=struct.pack("<I", 7)):
    """entries: [(name, type, data, flags)], laid out in order; returns the .amxd bytes."""
    body, directory, offset = b"", b"", 16
    for name, kind, data, flags in entries:
        raw = name.encode() + b"\x00"
        fields = (_rec(b"type", kind) + _rec(b"fnam", raw + b"\x00" * (-len(raw) % 4))
                  + _rec(b"sz32", struct.pack(">I", len(data))) + _rec(b"of32", struct.pack(">I", offset))
                  + _rec(b"vers", bytes(4)) + _rec(b"flag", struct.pack(">I", flags))
                  + _rec(b"mdat", struct.pack(">I", 3_800_000_000)))
        directory += _rec(b"dire", fields)
        body += data
        offset += len(data)
    payload = b"mx@c" + struct.pack(">IQ", 16, offset) + body + _rec(b"dlst", directory)
    return (b"ampf" + struct.pack("<I", 4) + device_type + b"meta" + struct.pack("<I", 4) + meta
            + b"ptch" + struct.pack("<I", len(payload)) + payload)


def read_frozen(blob):
    """{name: (type, flags, data)} of a frozen .amxd, read by the rules above."""
    assert blob[:4] == b"ampf" and blob[24:28] == b"ptch"
    (size,) = struct.unpack("<I", blob[28:32])
    payload = blob[32:32 + size]
    assert len(blob) == 32 + size and payload[:8] == b"mx@c" + struct.pack(">I", 16)
    (directory,) = struct.unpack(">Q", payload[8:16])
    assert payload[directory:directory + 4] == b"dlst"
    assert struct.unpack(">I", payload[directory + 4:directory + 8])[0] == len(payload) - directory
    files, rest = {}, payload[directory + 8:]
    while rest:
        assert rest[:4] == b"dire"
        end = struct.unpack(">I", rest[4:8])[0]
        body, fields = rest[8:end], {}
        while body:
            n = struct.unpack(">I", body[4:8])[0]
            fields[body[:4]] = body[8:n]
            body = body[n:]
        assert len(fields[b"fnam"]) % 4 == 0
        name = fields[b"fnam"].rstrip(b"\x00").decode()
        offset, length = (struct.unpack(">I", fields[k])[0] for k in (b"of32", b"sz32"))
        files[name] = (fields[b"type"], struct.unpack(">I", fields[b"flag"])[0], payload[offset:offset + length])
        rest = rest[end:]
    return files


def test_pack_writes_a_frozen_device_with_the_script_inside(tmp_path):
    out = tmp_path / "device" / "latentbridge.amxd"
    proc = build("pack", "--out", out)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"wrote {out} (") and "frozen with latentbridge.js" in proc.stdout
    blob = out.read_bytes()
    assert blob[:24] == b"ampf" + struct.pack("<I", 4) + b"mmmm" + b"meta" + struct.pack("<II", 4, 7)
    files = read_frozen(blob)
    assert list(files) == ["latentbridge.amxd", "latentbridge.js"]         # the device first
    kind, flags, data = files["latentbridge.amxd"]
    assert (kind, flags) == (b"JSON", 0x11) and data.endswith(b"}\n\x00")
    assert json.loads(data.rstrip(b"\x00")) == json.loads(PATCH.read_text())
    assert files["latentbridge.js"] == (b"TEXT", 0, (DEVICE_DIR / "latentbridge.js").read_bytes())
    assert [p.name for p in out.parent.iterdir()] == ["latentbridge.amxd"]   # nothing to keep beside it
    check = build("check", out)
    assert check.returncode == 0, check.stderr
    assert "frozen with 1 files (latentbridge.js)" in check.stdout and check.stdout.strip().endswith(", ok")


def test_the_patch_has_no_stray_code_entry_and_lists_its_script(tmp_path):
    project = json.loads(PATCH.read_text())["patcher"]["project"]
    assert project["contents"].get("code", {}) == {}       # as real devices: no "code" entries
    device = tmp_path / "lb.amxd"
    assert build("pack", "--out", device).returncode == 0
    names = [d["name"] for d in json.loads(build("unpack", device).stdout)["patcher"]["dependency_cache"]]
    assert names == ["latentbridge.js"]


def test_unfrozen_pack_keeps_the_plain_layout_and_the_js_beside_it(tmp_path):
    out = tmp_path / "device" / "latentbridge.amxd"
    proc = build("pack", "--unfrozen", "--out", out)
    assert proc.returncode == 0, proc.stderr
    blob, patch = out.read_bytes(), PATCH.read_bytes()
    assert blob[:24] == b"ampf" + struct.pack("<I", 4) + b"mmmm" + b"meta" + struct.pack("<I", 4) + bytes(4)
    assert blob[24:28] == b"ptch" and struct.unpack("<I", blob[28:32])[0] == len(patch) + 1
    assert blob[32:] == patch + b"\x00"
    assert (out.parent / "latentbridge.js").read_bytes() == (DEVICE_DIR / "latentbridge.js").read_bytes()
    assert not [p for p in out.parent.iterdir() if p.name.endswith(".tmp")]
    assert "unfrozen" in build("check", out).stdout


@pytest.mark.parametrize("frozen", [True, False])
def test_pack_then_unpack_gives_the_same_patch(tmp_path, frozen):
    device, back = tmp_path / "lb.amxd", tmp_path / "back.maxpat"
    assert build("pack", "--out", device, *([] if frozen else ["--unfrozen"])).returncode == 0
    proc = build("unpack", device, "--out", back, "--files", tmp_path / "files")
    assert proc.returncode == 0, proc.stderr
    assert back.read_bytes() == PATCH.read_bytes()
    assert sorted(p.name for p in (tmp_path / "files").glob("*")) == (["latentbridge.js"] if frozen else [])
    printed = build("unpack", device)
    assert json.loads(printed.stdout) == json.loads(PATCH.read_text())
    check = build("check", device)
    assert check.returncode == 0 and check.stdout.strip().endswith(", ok"), check.stderr
    assert f"MIDI effect, {'frozen with 1 files (latentbridge.js)' if frozen else 'unfrozen'}, " \
        in check.stdout


def _broken(how: str) -> dict:
    """The shipped patch with one fault Max or Live would not accept."""
    doc = json.loads(PATCH.read_text())
    patcher = doc["patcher"]
    boxes = {b["box"]["id"]: b["box"] for b in patcher["boxes"]}
    line = patcher["lines"][0]["patchline"]
    params = [b for b in boxes.values() if b.get("parameter_enable")]
    if how == "missing box":
        patcher["boxes"] = [b for b in patcher["boxes"] if b["box"]["id"] != line["destination"][0]]
    elif how == "no such inlet":
        line["destination"][1] = boxes[line["destination"][0]]["numinlets"]
    elif how == "duplicate id":
        patcher["boxes"].append(json.loads(json.dumps(patcher["boxes"][0])))
    elif how == "unlisted parameter":
        del patcher["parameters"][params[0]["id"]]
    elif how == "same parameter name":
        names = [p["saved_attribute_attributes"]["valueof"] for p in params[:2]]
        names[1]["parameter_longname"] = names[0]["parameter_longname"]
    elif how == "no hint":
        params[0].pop("hint", None)
        params[0].pop("annotation", None)
    return doc


@pytest.mark.parametrize("how, reason", [
    ("missing box", "patchline to missing box obj-js"),
    ("no such inlet", "patchline to obj-js inlet"),
    ("duplicate id", "duplicate box id"),
    ("unlisted parameter", "parameter missing from the patcher's parameters block"),
    ("same parameter name", "two parameters are named"),
    ("no hint", "has no hint")])
def test_pack_refuses_a_patch_max_or_live_would_not_take(tmp_path, how, reason):
    """With one fault in the shipped patch (which packs: see the tests above), pack names the
    fault in one line and writes nothing."""
    broken = tmp_path / "broken.maxpat"
    broken.write_text(json.dumps(_broken(how)))
    proc = build("pack", "--patch", broken, "--out", tmp_path / "x.amxd")
    assert proc.returncode == 1 and proc.stderr.count("\n") == 1 and reason in proc.stderr, proc.stderr
    assert not (tmp_path / "x.amxd").exists()


def small_patch(js="helper.js", extra=b""):
    doc = {"patcher": {"fileversion": 1, "boxes": [
        {"box": {"id": "obj-1", "maxclass": "newobj", "text": f"js {js}", "numinlets": 1, "numoutlets": 1}},
        {"box": {"id": "obj-2", "maxclass": "newobj", "text": "p sub", "numinlets": 1, "numoutlets": 0,
                 "patcher": {"boxes": [{"box": {"id": "obj-1", "maxclass": "newobj", "text": "js inner",
                                                "numinlets": 1, "numoutlets": 0}}], "lines": []}}}],
        "lines": [], "project": {"amxdtype": 1633771873}}}
    return json.dumps(doc, indent="\t").encode() + b"\n\x00" + extra


def test_unpack_and_check_read_a_max_9_frozen_device(tmp_path):
    """Device JSON first (flag 0x11), then an abstraction, scripts and binary media, as Max 9
    freezes them; the u64 directory offset lies past everything."""
    png = bytes(range(256)) * 8                                   # not UTF-8
    blob = frozen_fixture([("Lead.amxd", b"JSON", small_patch(), 0x11),
                           ("Abstraction.maxpat", b"JSON", b'{"patcher": {"boxes": []}}\n', 0),
                           ("helper.js", b"TEXT", b"outlets = 1;\n", 0),
                           ("inner.js", b"TEXT", b"post(1);\n", 8),
                           ("picture.png", b"PNG ", png, 0)], device_type=b"aaaa")
    device = tmp_path / "Lead.amxd"
    device.write_bytes(blob)
    proc = build("unpack", device, "--files", tmp_path / "files")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["patcher"]["boxes"][0]["box"]["text"] == "js helper.js"
    assert (tmp_path / "files" / "picture.png").read_bytes() == png
    assert (tmp_path / "files" / "inner.js").read_bytes() == b"post(1);\n"
    check = build("check", device)
    assert check.returncode == 0, check.stderr
    assert "audio effect, frozen with 4 files (Abstraction.maxpat, helper.js, inner.js, picture.png)" in check.stdout
    assert check.stdout.strip().endswith(", 2 boxes, 0 lines, 0 parameters, ok")   # small_patch's
    # The same device without inner.js inside: check names the missing script.
    device.write_bytes(frozen_fixture([("Lead.amxd", b"JSON", small_patch(), 0x11),
                                       ("helper.js", b"TEXT", b"outlets = 1;\n", 0)]))
    check = build("check", device)
    assert check.returncode == 1 and "[js inner] is not embedded in the frozen device" in check.stderr


def test_unpack_reads_a_max_8_device_with_stale_bytes_after_its_json(tmp_path):
    """Max 8.1 left old buffer contents after the patcher's NUL, inside the entry's size."""
    garbage = b'98039, 1.0 ]\n\t}\n\n}\n\x00282353, 0.28 ]\n}\n\x00'
    blob = frozen_fixture([("Old.amxd", b"JSON", small_patch(extra=garbage), 0x11)],
                          device_type=b"aaaa", meta=struct.pack(">I", 7))
    device = tmp_path / "Old.amxd"
    device.write_bytes(blob)
    proc = build("unpack", device)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == json.loads(small_patch().rstrip(b"\x00"))
    check = build("check", device)
    assert check.returncode == 1 and "[js helper.js] is not embedded" in check.stderr   # read, then judged
    # The plain layout with stale bytes after the JSON is read too.
    plain = tmp_path / "plain.amxd"
    payload = small_patch(extra=garbage)
    plain.write_bytes(b"ampf" + struct.pack("<I", 4) + b"aaaa" + b"meta" + struct.pack("<II", 4, 1)
                      + b"ptch" + struct.pack("<I", len(payload)) + payload)
    assert json.loads(build("unpack", plain).stdout) == json.loads(small_patch().rstrip(b"\x00"))


def test_unpack_reads_the_newer_mx_at_c_container(tmp_path):
    """An 'mx@c' payload with an empty 'dlst' directory: the JSON right after the header."""
    patch = PATCH.read_bytes()
    directory = b"dlst" + struct.pack(">I", 8)
    payload = b"mx@c" + struct.pack(">III", 16, 0, 16 + len(patch) + 2) + patch + b"\n\x00" + directory
    blob = (b"ampf" + struct.pack("<I", 4) + b"mmmm" + b"meta" + struct.pack("<II", 4, 7)
            + b"ptch" + struct.pack("<I", len(payload)) + payload)
    device = tmp_path / "frozen.amxd"
    device.write_bytes(blob)
    proc = build("unpack", device)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == json.loads(patch)


@pytest.mark.skipif(not os.environ.get("LB_REAL_AMXD_DIR"),
                    reason="set LB_REAL_AMXD_DIR to a folder of real .amxd files (e.g. maxdevtools' "
                           "maxdiff/tests/test_files) to read them too")
def test_check_reads_real_published_devices():
    folder = Path(os.environ["LB_REAL_AMXD_DIR"])
    devices = [p for p in sorted(folder.glob("*.amxd")) if b"ciph" not in p.read_bytes()[:64]]
    assert devices
    for device in devices:
        proc = build("check", device)
        assert proc.returncode == 0 and proc.stdout.strip().endswith(", ok"), (device, proc.stderr)


def test_bad_input_gets_one_line_and_a_nonzero_exit(tmp_path, shared_data):
    midi = shared_data / "nottingham" / "melody" / "ashover1.mid"
    truncated = tmp_path / "cut.amxd"
    assert build("pack", "--out", tmp_path / "ok.amxd").returncode == 0
    truncated.write_bytes((tmp_path / "ok.amxd").read_bytes()[:500])
    bad_directory = tmp_path / "baddir.amxd"
    blob = bytearray((tmp_path / "ok.amxd").read_bytes())
    blob[32 + 8:32 + 16] = struct.pack(">Q", 10 ** 9)               # the u64 directory offset
    bad_directory.write_bytes(bytes(blob))
    broken_patch = tmp_path / "broken.maxpat"
    doc = json.loads(PATCH.read_text())
    doc["patcher"]["lines"].append({"patchline": {"source": ["obj-js", 9], "destination": ["obj-udpsend", 0]}})
    broken_patch.write_text(json.dumps(doc))
    not_json = tmp_path / "notjson.maxpat"
    not_json.write_text("{ this is not json")
    cases = {
        ("unpack", midi): "not a Max for Live device (no 'ampf' header)",
        ("unpack", truncated): "claims",
        ("check", bad_directory): "does not point at a 'dlst'",
        ("unpack", tmp_path / "missing.amxd"): "no such file",
        ("pack", "--patch", broken_patch, "--out", tmp_path / "x.amxd"): "patchline from obj-js outlet 9",
        ("pack", "--patch", not_json, "--out", tmp_path / "y.amxd"): "patch is not JSON",
        ("pack", "--type", "aaaa", "--out", tmp_path / "z.amxd"): "needs 1633771873 ('aaaa')",
    }
    for args, reason in cases.items():
        proc = build(*args)
        assert proc.returncode == 1, args
        assert proc.stderr.count("\n") == 1 and reason in proc.stderr, proc.stderr
        assert "Traceback" not in proc.stderr
    assert not (tmp_path / "x.amxd").exists() and not (tmp_path / "y.amxd").exists()
    wrong_flag = build("pack", "--wrong")
    assert wrong_flag.returncode == 2 and "unrecognized arguments: --wrong" in wrong_flag.stderr
    assert "Traceback" not in wrong_flag.stderr
    helped = build("--help")
    assert helped.returncode == 0 and "pack" in helped.stdout and "unpack" in helped.stdout
