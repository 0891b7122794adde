"""Pack the latentbridge Max patch into a Max for Live device (.amxd), and back.

    $ python max_for_live/build.py pack                       # -> max_for_live/build/latentbridge.amxd
    $ python max_for_live/build.py pack --out ~/Music/latentbridge/latentbridge.amxd
    $ python max_for_live/build.py unpack some_device.amxd --out some_device.maxpat
    $ python max_for_live/build.py check max_for_live/build/latentbridge.amxd

The readable source is ``latentbridge.maxpat`` (patcher JSON) and ``latentbridge.js``; the .amxd
is built from them and never edited by hand. ``pack`` copies the [js] file next to the device,
because an unfrozen device finds its [js] in its own folder. Layout of the file: see README.md.

As a library::

    >>> from build import pack_amxd, unpack_amxd
    >>> blob = pack_amxd(open("latentbridge.maxpat", "rb").read())
    >>> unpack_amxd(blob)["device_type"]
    'mmmm'
"""

from __future__ import annotations

import argparse
import json
import os
import struct
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
PATCH = HERE / "latentbridge.maxpat"
SCRIPTS = ["latentbridge.js"]

DEVICE_TYPES = {"mmmm": "MIDI effect", "aaaa": "audio effect", "iiii": "instrument"}
# The patcher's project block names the device type again, as the four letters read as a
# big-endian int: 'mmmm' = 0x6D6D6D6D = 1835887981.
AMXDTYPE = {code: int.from_bytes(code.encode("ascii"), "big") for code in DEVICE_TYPES}


class AmxdError(ValueError):
    """A device or patch that cannot be packed or unpacked; the message is one line."""


# --- chunks -------------------------------------------------------------------------------------

def _chunk(tag: bytes, data: bytes) -> bytes:
    return tag + struct.pack("<I", len(data)) + data


def _chunks(blob: bytes):
    """Yield (tag, data) for each 'tag, little-endian u32 length, data' chunk of an .amxd."""
    offset = 0
    while offset < len(blob):
        if offset + 8 > len(blob):
            raise AmxdError(f"truncated chunk header at byte {offset}")
        tag = blob[offset:offset + 4]
        (size,) = struct.unpack("<I", blob[offset + 4:offset + 8])
        start, end = offset + 8, offset + 8 + size
        if end > len(blob):
            raise AmxdError(f"chunk {tag!r} at byte {offset} claims {size} bytes, "
                            f"only {len(blob) - start} left")
        yield tag, blob[start:end]
        offset = end


def pack_amxd(patch_json: bytes, device_type: str = "mmmm", meta: int = 0) -> bytes:
    """The .amxd bytes for a patcher JSON document (kept byte for byte, plus a NUL)."""
    if device_type not in DEVICE_TYPES:
        raise AmxdError(f"device type must be one of {', '.join(DEVICE_TYPES)}, not {device_type!r}")
    doc = _parse_patch(patch_json, "patch")
    problems = validate_patch(doc)
    if problems:
        raise AmxdError(f"patch is broken: {problems[0]}" +
                        (f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""))
    amxdtype = doc["patcher"].get("project", {}).get("amxdtype")
    if amxdtype != AMXDTYPE[device_type]:
        raise AmxdError(f"patch project.amxdtype is {amxdtype}, a {DEVICE_TYPES[device_type]} "
                        f"needs {AMXDTYPE[device_type]} ({device_type!r})")
    return (_chunk(b"ampf", device_type.encode("ascii"))
            + _chunk(b"meta", struct.pack("<I", meta))
            + _chunk(b"ptch", patch_json + b"\x00"))


def unpack_amxd(blob: bytes) -> dict:
    """Split an .amxd into {"device_type", "meta", "patch_json" (bytes), "patch" (dict)}.

    Reads the plain layout this script writes and the newer one Max 8.6+ saves, where the ptch
    chunk starts with an 'mx@c' header and ends with a 'dlst' directory of embedded files.
    """
    if not blob.startswith(b"ampf"):
        raise AmxdError("not a Max for Live device (no 'ampf' header)")
    chunks = list(_chunks(blob))
    device_type = chunks[0][1].decode("ascii", "replace")
    found = {tag: data for tag, data in chunks[1:]}
    if b"ptch" not in found:
        raise AmxdError("device has no 'ptch' chunk (no patcher inside)")
    payload = found[b"ptch"]
    if payload.startswith(b"mx@c"):
        header, _, directory = struct.unpack(">III", payload[4:16])
        patch_json = payload[header:directory].rstrip(b"\x00")
    else:
        patch_json = payload[:-1] if payload.endswith(b"\x00") else payload
    meta = found.get(b"meta", b"")
    return {"device_type": device_type,
            "meta": struct.unpack("<I", meta)[0] if len(meta) == 4 else meta,
            "patch_json": patch_json,
            "patch": _parse_patch(patch_json, "ptch chunk")}


def _parse_patch(patch_json: bytes, what: str) -> dict:
    try:
        doc = json.loads(patch_json.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise AmxdError(f"{what} is not JSON ({exc})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("patcher"), dict):
        raise AmxdError(f"{what} has no top-level 'patcher' object")
    return doc


# --- patch checks --------------------------------------------------------------------------------

def validate_patch(doc: dict) -> list[str]:
    """Problems that would make Max drop a connection or Live refuse a parameter; [] if none.

    Every patchline must join existing boxes at an existing outlet/inlet, box ids are unique,
    and every Live parameter (live.* with parameter_enable) has a long name, a short name and
    a hint, and is listed in the patcher's "parameters" block.
    """
    problems = []
    patcher = doc.get("patcher", {})
    boxes = {}
    for entry in patcher.get("boxes", []):
        box = entry.get("box", {})
        box_id = box.get("id")
        if box_id in boxes:
            problems.append(f"duplicate box id {box_id}")
        boxes[box_id] = box
        if isinstance(box.get("patcher"), dict):          # a subpatcher: same rules inside
            problems += [f"{box_id} > {p}" for p in validate_patch({"patcher": box["patcher"]})
                         if "parameters block" not in p]
        if len(box.get("outlettype", [])) not in (0, box.get("numoutlets", 0)):
            problems.append(f"{box_id}: outlettype lists {len(box['outlettype'])} outlets, "
                            f"numoutlets is {box.get('numoutlets')}")
    for entry in patcher.get("lines", []):
        line = entry.get("patchline", {})
        (src, outlet), (dst, inlet) = line.get("source", [None, 0]), line.get("destination", [None, 0])
        if src not in boxes:
            problems.append(f"patchline from missing box {src}")
        elif not 0 <= outlet < boxes[src].get("numoutlets", 0):
            problems.append(f"patchline from {src} outlet {outlet}: it has "
                            f"{boxes[src].get('numoutlets', 0)} outlets")
        if dst not in boxes:
            problems.append(f"patchline to missing box {dst}")
        elif not 0 <= inlet < boxes[dst].get("numinlets", 0):
            problems.append(f"patchline to {dst} inlet {inlet}: it has "
                            f"{boxes[dst].get('numinlets', 0)} inlets")
    listed = patcher.get("parameters", {})
    for box_id, box in boxes.items():
        if not box.get("parameter_enable"):
            continue
        valueof = box.get("saved_attribute_attributes", {}).get("valueof", {})
        for key in ("parameter_longname", "parameter_shortname"):
            if not valueof.get(key):
                problems.append(f"{box_id}: parameter without {key}")
        if not box.get("hint") and not box.get("annotation"):
            problems.append(f"{box_id}: parameter {valueof.get('parameter_longname')} has no hint")
        if box_id not in listed:
            problems.append(f"{box_id}: parameter missing from the patcher's parameters block")
    names = [b.get("saved_attribute_attributes", {}).get("valueof", {}).get("parameter_longname")
             for b in boxes.values() if b.get("parameter_enable")]
    for name in sorted({n for n in names if names.count(n) > 1 and n}):
        problems.append(f"two parameters are named {name!r}")
    return problems


# --- files ---------------------------------------------------------------------------------------

def write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise AmxdError(f"{path}: no such file") from None
    except OSError as exc:
        raise AmxdError(f"{path}: cannot read ({exc.strerror})") from None


def cmd_pack(args) -> str:
    patch = Path(args.patch)
    blob = pack_amxd(_read(patch), args.type)
    out = Path(args.out)
    write_atomic(out, blob)
    for script in SCRIPTS:   # the [js] files travel next to the device
        source = patch.parent / script
        if source.exists() and source.resolve() != (out.parent / script).resolve():
            write_atomic(out.parent / script, source.read_bytes())
    return f"wrote {out} ({len(blob)} bytes, {DEVICE_TYPES[args.type]}) and {', '.join(SCRIPTS)}"


def cmd_unpack(args) -> str:
    device = unpack_amxd(_read(Path(args.device)))
    if args.out:
        write_atomic(Path(args.out), device["patch_json"])
        return f"wrote {args.out} ({DEVICE_TYPES.get(device['device_type'], device['device_type'])})"
    sys.stdout.write(device["patch_json"].decode("utf-8"))
    return ""


def cmd_check(args) -> str:
    device = unpack_amxd(_read(Path(args.device)))
    patcher = device["patch"]["patcher"]
    problems = validate_patch(device["patch"])
    if problems:
        raise AmxdError(f"{args.device}: {problems[0]}")
    kind = DEVICE_TYPES.get(device["device_type"], f"unknown type {device['device_type']!r}")
    return (f"{args.device}: {kind}, {len(patcher.get('boxes', []))} boxes, "
            f"{len(patcher.get('lines', []))} lines, "
            f"{sum(k.startswith('obj-') for k in patcher.get('parameters', {}))} parameters, ok")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="build.py", description="Pack latentbridge.maxpat into a Max for Live .amxd, or back.")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("pack", help="build the .amxd from the patch (and copy the [js] beside it)")
    p.add_argument("--patch", default=str(PATCH), help="patcher JSON (default: %(default)s)")
    p.add_argument("--out", default=str(HERE / "build" / "latentbridge.amxd"),
                   help="device to write (default: %(default)s)")
    p.add_argument("--type", default="mmmm", choices=sorted(DEVICE_TYPES),
                   help="device type: mmmm MIDI effect (default), aaaa audio effect, iiii instrument")
    p.set_defaults(run=cmd_pack)
    u = sub.add_parser("unpack", help="extract the patcher JSON from an .amxd")
    u.add_argument("device", help=".amxd file")
    u.add_argument("--out", help="write the patch here instead of printing it")
    u.set_defaults(run=cmd_unpack)
    c = sub.add_parser("check", help="check an .amxd: header, patch JSON, patchlines, parameters")
    c.add_argument("device", help=".amxd file")
    c.set_defaults(run=cmd_check)
    args = parser.parse_args(argv)
    try:
        message = args.run(args)
    except AmxdError as exc:
        print(f"build.py {args.command}: {exc}", file=sys.stderr)
        return 1
    if message:
        print(message)
    return 0


if __name__ == "__main__":
    sys.exit(main())
