"""max_for_live/build.py: pack the patch into an .amxd, unpack it back, refuse bad input."""

import json
import struct
import subprocess
import sys
from pathlib import Path

DEVICE_DIR = Path(__file__).resolve().parents[2] / "max_for_live"
PATCH = DEVICE_DIR / "latentbridge.maxpat"


def build(*args, cwd=None):
    return subprocess.run([sys.executable, str(DEVICE_DIR / "build.py"), *map(str, args)],
                          capture_output=True, text=True, timeout=60, cwd=cwd)


def test_pack_writes_the_amxd_layout_and_the_js_beside_it(tmp_path):
    out = tmp_path / "device" / "latentbridge.amxd"
    proc = build("pack", "--out", out)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"wrote {out} (")
    blob = out.read_bytes()
    patch = PATCH.read_bytes()
    assert blob[:24] == b"ampf" + struct.pack("<I", 4) + b"mmmm" + b"meta" + struct.pack("<I", 4) + bytes(4)
    assert blob[24:28] == b"ptch"
    (size,) = struct.unpack("<I", blob[28:32])
    assert size == len(patch) + 1 and len(blob) == 32 + size
    assert blob[32:] == patch + b"\x00"                          # the JSON, NUL-terminated
    assert (out.parent / "latentbridge.js").read_bytes() == (DEVICE_DIR / "latentbridge.js").read_bytes()
    assert not [p for p in out.parent.iterdir() if p.name.endswith(".tmp")]


def test_pack_then_unpack_gives_the_same_patch(tmp_path):
    device, back = tmp_path / "lb.amxd", tmp_path / "back.maxpat"
    assert build("pack", "--out", device).returncode == 0
    proc = build("unpack", device, "--out", back)
    assert proc.returncode == 0, proc.stderr
    assert back.read_bytes() == PATCH.read_bytes()
    assert json.loads(back.read_text()) == json.loads(PATCH.read_text())
    printed = build("unpack", device)
    assert json.loads(printed.stdout) == json.loads(PATCH.read_text())
    check = build("check", device)
    assert check.returncode == 0 and check.stdout.strip().endswith("MIDI effect, 45 boxes, 49 lines, 11 parameters, ok")


def test_unpack_reads_the_newer_mx_at_c_container(tmp_path):
    """Max 8.6+ wraps the patch in an 'mx@c' header and appends a 'dlst' file directory."""
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


def test_bad_input_gets_one_line_and_a_nonzero_exit(tmp_path, shared_data):
    midi = shared_data / "nottingham" / "melody" / "ashover1.mid"
    truncated = tmp_path / "cut.amxd"
    assert build("pack", "--out", tmp_path / "ok.amxd").returncode == 0
    truncated.write_bytes((tmp_path / "ok.amxd").read_bytes()[:500])
    broken_patch = tmp_path / "broken.maxpat"
    doc = json.loads(PATCH.read_text())
    doc["patcher"]["lines"].append({"patchline": {"source": ["obj-js", 9], "destination": ["obj-udpsend", 0]}})
    broken_patch.write_text(json.dumps(doc))
    not_json = tmp_path / "notjson.maxpat"
    not_json.write_text("{ this is not json")
    cases = {
        ("unpack", midi): "not a Max for Live device (no 'ampf' header)",
        ("unpack", truncated): "claims",
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
