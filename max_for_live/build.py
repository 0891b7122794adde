"""Pack the latentbridge Max patch into a Max for Live device (.amxd), and back.

    $ python max_for_live/build.py pack                       # -> max_for_live/build/latentbridge.amxd (frozen)
    $ python max_for_live/build.py pack --out ~/Music/latentbridge/latentbridge.amxd
    $ python max_for_live/build.py pack --unfrozen            # plain device + latentbridge.js beside it
    $ python max_for_live/build.py unpack some_device.amxd --out some_device.maxpat [--files DIR]
    $ python max_for_live/build.py check max_for_live/build/latentbridge.amxd

The readable source is ``latentbridge.maxpat`` (patcher JSON) and ``latentbridge.js``; the .amxd
is built from them and never edited by hand. ``pack`` writes a *frozen* device by default: the
script travels inside the .amxd, as in Ableton's own frozen devices, so Collect All and Save, a
Live Pack or a set sent to a friend keep it. Layout of the file: see README.md.

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

# Frozen devices (Max 8.6+/9 "mx@c" payload): 'meta' as Ableton's frozen samples have it, and
# the flags of the directory entry that holds the device's own patcher.
FROZEN_META = 7
DEVICE_ENTRY_FLAGS = 0x11
HFS_EPOCH_OFFSET = 2082844800          # seconds from 1904-01-01 (HFS+) to 1970-01-01
# dlst 'type' of an embedded file, by extension (four ASCII characters, space padded)
FILE_TYPES = {".js": "TEXT", ".txt": "TEXT", ".maxpat": "JSON", ".json": "JSON", ".png": "PNG ",
              ".svg": "svg ", ".aif": "AIFF", ".aiff": "AIFF", ".wav": "WAVE"}

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


def _check_device_patch(patch_json: bytes, device_type: str) -> dict:
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
    return doc


def pack_amxd(patch_json: bytes, device_type: str = "mmmm", meta: int = 0) -> bytes:
    """The plain (unfrozen) .amxd bytes for a patcher JSON document (kept byte for byte, plus a
    NUL). Its [js] files must sit next to the device."""
    _check_device_patch(patch_json, device_type)
    return (_chunk(b"ampf", device_type.encode("ascii"))
            + _chunk(b"meta", struct.pack("<I", meta))
            + _chunk(b"ptch", patch_json + b"\x00"))


def _field(tag: bytes, data: bytes) -> bytes:
    """A dlst field: tag, big-endian u32 size counting the 8-byte header, data."""
    return tag + struct.pack(">I", 8 + len(data)) + data


def _padded_name(name: str) -> bytes:
    raw = name.encode("utf-8") + b"\x00"
    return raw + b"\x00" * (-len(raw) % 4)


def file_type(name: str) -> str:
    return FILE_TYPES.get(os.path.splitext(name)[1].lower(), "TEXT")


def pack_frozen_amxd(patch_json: bytes, files: list[tuple[str, bytes]], device_type: str = "mmmm",
                     device_name: str = "latentbridge.amxd", mtime: float = 0.0) -> bytes:
    """A frozen .amxd: the patcher and every file it needs inside one device.

    Laid out as Ableton's frozen devices are: the 'ptch' payload is a 16-byte 'mx@c' header
    (big-endian u32 header size 16, big-endian u64 offset of the directory), then the device's
    patcher JSON ending in newline + NUL, then each embedded file's bytes, then a 'dlst'
    directory of 'dire' entries (type, fnam, sz32, of32, vers, flag, mdat; big-endian sizes
    that count their own 8-byte header; offsets from the start of the payload).
    """
    _check_device_patch(patch_json, device_type)
    names = [name for name, _ in files]
    if len(set(names)) != len(names) or device_name in names:
        raise AmxdError(f"embedded file names must be unique: {names}")
    date = struct.pack(">I", max(0, int(mtime) + HFS_EPOCH_OFFSET) & 0xFFFFFFFF)
    blobs = [(device_name, "JSON", patch_json.rstrip() + b"\n\x00", DEVICE_ENTRY_FLAGS)]
    blobs += [(name, file_type(name), data, 0) for name, data in files]
    body, entries, offset = b"", b"", 16
    for name, kind, data, flags in blobs:
        entry = (_field(b"type", kind.encode("ascii")) + _field(b"fnam", _padded_name(name))
                 + _field(b"sz32", struct.pack(">I", len(data))) + _field(b"of32", struct.pack(">I", offset))
                 + _field(b"vers", struct.pack(">I", 0)) + _field(b"flag", struct.pack(">I", flags))
                 + _field(b"mdat", date))
        entries += _field(b"dire", entry)
        body += data
        offset += len(data)
    payload = b"mx@c" + struct.pack(">IQ", 16, offset) + body + _field(b"dlst", entries)
    return (_chunk(b"ampf", device_type.encode("ascii"))
            + _chunk(b"meta", struct.pack("<I", FROZEN_META))
            + _chunk(b"ptch", payload))


def _read_fields(data: bytes, where: str) -> list[tuple[bytes, bytes]]:
    """Tag / big-endian size (counting the header) / data records, refusing any that overrun."""
    fields, offset = [], 0
    while offset < len(data):
        if offset + 8 > len(data):
            raise AmxdError(f"{where}: truncated record at byte {offset}")
        tag = data[offset:offset + 4]
        (size,) = struct.unpack(">I", data[offset + 4:offset + 8])
        if size < 8 or offset + size > len(data):
            raise AmxdError(f"{where}: record {tag!r} at byte {offset} claims {size} bytes, "
                            f"{len(data) - offset} left")
        fields.append((tag, data[offset + 8:offset + size]))
        offset += size
    return fields


def _frozen_entries(payload: bytes) -> tuple[list[dict], int]:
    """The 'dlst' directory of an 'mx@c' payload: [{name, type, offset, size, flags, data}]."""
    if len(payload) < 16:
        raise AmxdError("mx@c header cut short")
    header, directory = struct.unpack(">IQ", payload[4:16])
    if not 16 <= header <= directory <= len(payload) - 8 or payload[directory:directory + 4] != b"dlst":
        raise AmxdError(f"mx@c directory offset {directory} does not point at a 'dlst' "
                        f"(payload is {len(payload)} bytes)")
    (size,) = struct.unpack(">I", payload[directory + 4:directory + 8])
    if directory + size > len(payload) or size < 8:
        raise AmxdError(f"'dlst' claims {size} bytes, {len(payload) - directory} left")
    entries = []
    for tag, entry in _read_fields(payload[directory + 8:directory + size], "dlst"):
        if tag != b"dire":
            continue
        fields = dict(_read_fields(entry, "dire"))
        number = lambda key: struct.unpack(">I", fields[key][:4])[0] if len(fields.get(key, b"")) >= 4 else 0
        name = fields.get(b"fnam", b"").split(b"\x00", 1)[0].decode("utf-8", "replace")
        offset, length = number(b"of32"), number(b"sz32")
        if not header <= offset <= offset + length <= directory:
            raise AmxdError(f"embedded file {name!r} ({length} bytes at {offset}) lies outside the data")
        entries.append({"name": name, "type": fields.get(b"type", b"").decode("ascii", "replace").strip(),
                        "offset": offset, "size": length, "flags": number(b"flag"),
                        "data": payload[offset:offset + length]})
    return entries, header


def unpack_amxd(blob: bytes) -> dict:
    """Split an .amxd into {"device_type", "meta", "patch_json" (bytes), "patch" (dict),
    "frozen" (bool), "files" ([{name, type, size, flags, data}] embedded besides the patch)}.

    Reads the plain layout and the frozen 'mx@c' one Max 8.6+ and 9 save (the device's patcher
    is the directory entry flagged as the device, other entries are the embedded files). Data
    after the patcher's JSON (some Max 8 versions leave stale bytes there) is ignored.
    """
    if not blob.startswith(b"ampf"):
        raise AmxdError("not a Max for Live device (no 'ampf' header)")
    chunks = list(_chunks(blob))
    device_type = chunks[0][1].decode("ascii", "replace")
    found = {tag: data for tag, data in chunks[1:]}
    if b"ciph" in found:
        raise AmxdError("device is encrypted: its patcher cannot be read")
    if b"ptch" not in found:
        raise AmxdError("device has no 'ptch' chunk (no patcher inside)")
    payload = found[b"ptch"]
    files, frozen = [], payload.startswith(b"mx@c")
    if frozen:
        entries, header = _frozen_entries(payload)
        device = next((e for e in entries if e["flags"] & 0x10), None)
        if device is None:     # no entry says it is the device: the JSON right after the header
            directory = struct.unpack(">Q", payload[8:16])[0]
            device = next((e for e in entries if e["offset"] == header),
                          {"name": "", "data": payload[header:directory]})
        patch_json = _first_json(device["data"], "device patcher")
        files = [e for e in entries if e is not device]
    else:
        patch_json = _first_json(payload, "ptch chunk")
    meta = found.get(b"meta", b"")
    return {"device_type": device_type,
            "meta": struct.unpack("<I", meta)[0] if len(meta) == 4 else meta,
            "patch_json": patch_json,
            "patch": _parse_patch(patch_json, "ptch chunk"),
            "frozen": frozen,
            "files": files}


def _first_json(data: bytes, what: str) -> bytes:
    """The bytes of the first JSON document in data (NULs and stale bytes after it dropped)."""
    text = data.decode("utf-8", "replace")
    start = len(text) - len(text.lstrip())
    try:
        _, end = json.JSONDecoder().raw_decode(text, start)
    except json.JSONDecodeError as exc:
        raise AmxdError(f"{what} is not JSON ({exc})") from None
    return text[:end].encode("utf-8") if text[end:].strip("\x00\n\r\t ") else data.rstrip(b"\x00")


def _parse_patch(patch_json: bytes, what: str) -> dict:
    try:
        doc = json.loads(patch_json.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise AmxdError(f"{what} is not JSON ({exc})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("patcher"), dict):
        raise AmxdError(f"{what} has no top-level 'patcher' object")
    return doc


# --- patch checks --------------------------------------------------------------------------------

def validate_patch(doc: dict, strict: bool = True) -> list[str]:
    """Problems that would make Max drop a connection or Live refuse a parameter; [] if none.

    Every patchline must join existing boxes at an existing outlet/inlet, box ids are unique,
    and every Live parameter (live.* with parameter_enable) has a long name, a short name and,
    when ``strict`` (our own device), a hint and an entry in the patcher's "parameters" block.
    Devices made by others (``check``) are held to the structural rules only.
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
            problems += [f"{box_id} > {p}" for p in validate_patch({"patcher": box["patcher"]}, strict)
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
        if not strict:
            continue
        if not box.get("hint") and not box.get("annotation"):
            problems.append(f"{box_id}: parameter {valueof.get('parameter_longname')} has no hint")
        if box_id not in listed:
            problems.append(f"{box_id}: parameter missing from the patcher's parameters block")
    names = [b.get("saved_attribute_attributes", {}).get("valueof", {}).get("parameter_longname")
             for b in boxes.values() if b.get("parameter_enable")]
    for name in sorted({n for n in names if names.count(n) > 1 and n} if strict else ()):
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


def js_files(patcher: dict) -> list[str]:
    """The script files of every [js file] box, subpatchers included."""
    found = []
    for entry in patcher.get("boxes", []):
        box = entry.get("box", {})
        words = str(box.get("text", "")).split()
        if box.get("maxclass") == "newobj" and len(words) >= 2 and words[0] == "js":
            found.append(words[1])
        if isinstance(box.get("patcher"), dict):
            found += js_files(box["patcher"])
    return found


def cmd_pack(args) -> str:
    patch = Path(args.patch)
    patch_json = _read(patch)
    out = Path(args.out)
    if args.unfrozen:
        blob = pack_amxd(patch_json, args.type)
        write_atomic(out, blob)
        for script in SCRIPTS:   # an unfrozen device finds its [js] files in its own folder
            source = patch.parent / script
            if source.exists() and source.resolve() != (out.parent / script).resolve():
                write_atomic(out.parent / script, source.read_bytes())
        return (f"wrote {out} ({len(blob)} bytes, {DEVICE_TYPES[args.type]}, unfrozen) "
                f"and {', '.join(SCRIPTS)} beside it")
    wanted = sorted(set(js_files(_check_device_patch(patch_json, args.type)["patcher"])))
    files = [(name, _read(patch.parent / name)) for name in wanted]
    mtime = max(patch.stat().st_mtime, *[(patch.parent / name).stat().st_mtime for name in wanted])
    blob = pack_frozen_amxd(patch_json, files, args.type, out.name, mtime)
    write_atomic(out, blob)
    return (f"wrote {out} ({len(blob)} bytes, {DEVICE_TYPES[args.type]}, frozen with "
            f"{', '.join(wanted) or 'no files'})")


def cmd_unpack(args) -> str:
    device = unpack_amxd(_read(Path(args.device)))
    message = []
    if args.files:
        folder = Path(args.files)
        for entry in device["files"]:
            name = Path(entry["name"]).name          # never outside the folder
            if name:
                write_atomic(folder / name, entry["data"])
        message.append(f"wrote {len(device['files'])} embedded files to {folder}")
    if args.out:
        write_atomic(Path(args.out), device["patch_json"])
        message.insert(0, f"wrote {args.out} "
                          f"({DEVICE_TYPES.get(device['device_type'], device['device_type'])})")
    else:
        sys.stdout.write(device["patch_json"].decode("utf-8"))
        if message:
            print(file=sys.stderr, *message)
            return ""
    return "\n".join(message)


def cmd_check(args) -> str:
    device = unpack_amxd(_read(Path(args.device)))
    patcher = device["patch"]["patcher"]
    problems = validate_patch(device["patch"], strict=False)
    if device["frozen"]:
        embedded = {entry["name"] for entry in device["files"]}
        problems += [f"[js {name}] is not embedded in the frozen device"   # Max adds .js
                     for name in sorted(set(js_files(patcher)))
                     if name not in embedded and name + ".js" not in embedded]
    if problems:
        raise AmxdError(f"{args.device}: {problems[0]}" +
                        (f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""))
    kind = DEVICE_TYPES.get(device["device_type"], f"unknown type {device['device_type']!r}")
    frozen = (f"frozen with {len(device['files'])} files ({', '.join(e['name'] for e in device['files'])})"
              if device["frozen"] and device["files"] else "frozen" if device["frozen"] else "unfrozen")
    return (f"{args.device}: {kind}, {frozen}, {len(patcher.get('boxes', []))} boxes, "
            f"{len(patcher.get('lines', []))} lines, "
            f"{sum(k.startswith('obj-') for k in patcher.get('parameters', {}))} parameters, ok")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="build.py", description="Pack latentbridge.maxpat into a Max for Live .amxd, or back.")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("pack", help="build the frozen .amxd from the patch, its [js] inside")
    p.add_argument("--patch", default=str(PATCH), help="patcher JSON (default: %(default)s)")
    p.add_argument("--out", default=str(HERE / "build" / "latentbridge.amxd"),
                   help="device to write (default: %(default)s)")
    p.add_argument("--type", default="mmmm", choices=sorted(DEVICE_TYPES),
                   help="device type: mmmm MIDI effect (default), aaaa audio effect, iiii instrument")
    p.add_argument("--unfrozen", action="store_true",
                   help="write the plain layout and copy the [js] files beside the device instead "
                        "(for editing in Max; do not share such a device)")
    p.set_defaults(run=cmd_pack)
    u = sub.add_parser("unpack", help="extract the patcher JSON from an .amxd")
    u.add_argument("device", help=".amxd file")
    u.add_argument("--out", help="write the patch here instead of printing it")
    u.add_argument("--files", help="also write the files embedded in a frozen device into this folder")
    u.set_defaults(run=cmd_unpack)
    c = sub.add_parser("check", help="check an .amxd: container, frozen files, patch JSON, patchlines, "
                                      "parameters")
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
