#!/usr/bin/env python3
"""A protected-restore engine in Python (standard library only), speaking the prestore stdio
protocol (docs/protocol.md): binary frames once the harness accepts them, else JSON lines; with
frames, writes and flushes are pipelined (sent without waiting, their answers read where the engine
needs to know: before a change is adopted in memory, and before it answers a call). The
harness serves every device I/O, so this process keeps no state of its own between runs:
everything it knows after a crash it reads back from the metadata device.

    npx prestore exhaust --bundled --engine-cmd "python3 python_engine.py"

`--bug NAME` switches on one realistic bug, for seeing the harness catch it:
    no-flush-before-clear   the copier clears a D bit before the copied data is durable
    read-source             reads of extents not yet copied come from the source
"""
import base64
import json
import struct
import sys
import zlib

PROTOCOL, VERSION = "prestore-engine", 1
MAGIC = b"PYRESTOR"
SUPERBLOCK = struct.Struct("<8sIIQIBBxxQ")  # magic, version, sector, volume, extent, state, protect, generation

BUGS = set()


class EngineError(Exception):
    kind = "other"


class CloneBusy(EngineError):
    kind = "clone-busy"


class StateError(EngineError):
    kind = "state"


class MetadataError(EngineError):
    kind = "metadata"


class IoFailed(EngineError):
    kind = "io"


class PowerLoss(Exception):
    """The harness answered an I/O request with power-loss: this engine instance is gone."""


STDIN, STDOUT = sys.stdin.buffer, sys.stdout.buffer


def receive(n):
    data = STDIN.read(n)
    if len(data) < n:
        sys.exit(0)  # the harness went away
    return data


class JsonLines:
    """The protocol's first framing: a JSON object per line, data in base64."""

    def send(self, message):
        STDOUT.write(json.dumps(message).encode() + b"\n")
        STDOUT.flush()

    def io(self, io_id, device, op, offset=0, length=0, data=None, fua=False):
        request = {"type": "io", "id": io_id, "device": device, "op": op, "offset": offset, "length": length, "fua": fua}
        if data is not None:
            request["data"] = base64.b64encode(bytes(data)).decode()
        self.send(request)
        answer = json.loads(STDIN.readline() or sys.exit(0))
        if answer["type"] == "power-loss":
            raise PowerLoss()
        if answer["type"] == "io-error":
            raise IoFailed(answer["error"]["message"])
        return base64.b64decode(answer.get("data", ""))

    def settle(self):
        """Every request was answered as it was made."""

    def next_call(self, line=b""):
        while not line.strip():
            line = STDIN.readline() or sys.exit(0)
        call = json.loads(line)
        args = call.get("args", {})
        data = base64.b64decode(args["data"]) if "data" in args else None
        return call["id"], call["method"], args, data

    def answer(self, call_id, value):
        if isinstance(value, (bytes, bytearray)):
            value = base64.b64encode(bytes(value)).decode()
        self.send({"type": "result", "id": call_id, "value": value})

    def error(self, call_id, kind, message):
        self.send({"type": "error", "id": call_id, "error": {"kind": kind, "message": message}})


class Frames:
    """The binary framing (docs/protocol.md): u32 size, u8 type, u32 id, then the body."""

    HEAD = struct.Struct("<IBI")
    IO = struct.Struct("<IBIBBBBQI")
    CALL, RESULT, ERROR, IO_REQUEST, IO_RESULT, IO_ERROR, POWER_LOSS, IO_SKIPPED = range(1, 9)
    DEVICES = {"source": 0, "clone": 1, "meta": 2}
    OPS = {"read": 0, "write": 1, "flush": 2}

    def __init__(self, pipelined):
        # Pipelined (the harness accepted "pipeline"): a write or flush is not waited for. The
        # harness skips any request sent before this engine read an earlier one's io-error (each
        # request says how many it has read in this call), so the I/O is the same as waiting.
        self.pipelined = pipelined
        self.in_flight = 0
        self.errors_seen = 0

    def io(self, io_id, device, op, offset=0, length=0, data=None, fua=False):
        payload = b"" if data is None else bytes(data)
        STDOUT.write(self.IO.pack(21 + len(payload), self.IO_REQUEST, io_id, self.DEVICES[device], self.OPS[op], fua, self.errors_seen & 255, offset, length) + payload)
        self.in_flight += 1
        if self.pipelined and op != "read":
            return None
        return self.settle()

    def settle(self):
        """Reads the answer to every request in flight, oldest first: raises the first error among
        them, else returns the last one's bytes."""
        STDOUT.flush()
        first, body = None, b""
        while self.in_flight:
            self.in_flight -= 1
            size, kind, _ = self.HEAD.unpack(receive(9))
            body = receive(size - 5)
            if kind == self.POWER_LOSS:
                first = PowerLoss()
            elif kind == self.IO_ERROR:
                self.errors_seen += 1
                first = first or IoFailed(body.decode())
        if first is not None:
            raise first
        return body

    def next_call(self):
        self.errors_seen = 0
        size, _, call_id = self.HEAD.unpack(receive(9))
        body = receive(size - 5)
        (n,) = struct.unpack_from("<I", body)
        call = json.loads(body[4:4 + n])
        return call_id, call["method"], call["args"], body[4 + n:]

    def send(self, kind, call_id, json_part, data=b""):
        STDOUT.write(self.HEAD.pack(9 + len(json_part) + len(data), kind, call_id) + struct.pack("<I", len(json_part)) + json_part + data)
        STDOUT.flush()

    def answer(self, call_id, value):
        if isinstance(value, (bytes, bytearray)):
            self.send(self.RESULT, call_id, b"", bytes(value))
        else:
            self.send(self.RESULT, call_id, json.dumps(value).encode())

    def error(self, call_id, kind, message):
        self.send(self.ERROR, call_id, json.dumps({"kind": kind, "message": message}).encode())


class Devices:
    """Device I/O, served by the harness: one request, then its answer, in order."""

    def __init__(self, framing):
        self.framing = framing
        self.next_id = 0

    def read(self, device, offset, length):
        self.next_id += 1
        return bytearray(self.framing.io(self.next_id, device, "read", offset, length))

    def write(self, device, offset, data, fua=False):
        self.next_id += 1
        self.framing.io(self.next_id, device, "write", offset, len(data), data, fua)

    def flush(self, device):
        self.next_id += 1
        self.framing.io(self.next_id, device, "flush")

    def settle(self):
        self.framing.settle()


class Layout:
    """Sectors 0 and 1: superblock slots; then D, then P, one bit per extent."""

    def __init__(self, geometry):
        self.sector = geometry["sectorSize"]
        self.volume = geometry["volumeSize"]
        self.extent_sectors = geometry["extentSectors"]
        self.extent_bytes = self.extent_sectors * self.sector
        self.extents = -(-self.volume // self.extent_bytes)
        self.map_sectors = max(1, -(-self.extents // (8 * self.sector)))
        self.delta_at = 2
        self.protected_at = 2 + self.map_sectors
        self.total = (2 + 2 * self.map_sectors) * self.sector


def encode_superblock(layout, state, protect, generation):
    body = SUPERBLOCK.pack(MAGIC, 1, layout.sector, layout.volume, layout.extent_sectors, state, protect, generation)
    record = body + struct.pack("<I", zlib.crc32(body))
    return record + bytes(layout.sector - len(record))


def decode_superblock(layout, raw):
    body = bytes(raw[: SUPERBLOCK.size])
    (crc,) = struct.unpack_from("<I", raw, SUPERBLOCK.size)
    magic, version, sector, volume, extent, state, protect, generation = SUPERBLOCK.unpack(body)
    if magic != MAGIC or crc != zlib.crc32(body) or version != 1:
        return None
    if (sector, volume, extent) != (layout.sector, layout.volume, layout.extent_sectors):
        raise MetadataError(f"metadata was written for geometry {sector}/{volume}/{extent}, the devices have {layout.sector}/{layout.volume}/{layout.extent_sectors}")
    return {"state": state, "protect": bool(protect), "generation": generation}


class Engine:
    def __init__(self, geometry, framing):
        self.io = Devices(framing)
        self.layout = Layout(geometry)
        self.maps = {}
        self.state, self.protect, self.generation = 0, True, 0
        self.commit_in_doubt = False
        self.clone_dirty = False

    # --- maps -----------------------------------------------------------------------------

    def bit(self, name, e):
        return self.maps[name][e >> 3] >> (e & 7) & 1 == 1

    def needs_copy(self, e):
        return self.bit("D", e) and not self.bit("P", e)

    def persist(self, changes):
        """Changed map sectors written, one flush, and only then the change adopted in memory."""
        staged = []
        size = self.layout.sector
        for name, extents, value in changes:
            image = bytearray(self.maps[name])
            touched = set()
            for e in extents:
                if self.bit(name, e) != value:
                    image[e >> 3] ^= 1 << (e & 7)
                    touched.add((e >> 3) // size)
            base = self.layout.delta_at if name == "D" else self.layout.protected_at
            for s in sorted(touched):
                self.io.write("meta", (base + s) * size, image[s * size:(s + 1) * size])
            if touched:
                staged.append((name, image))
        if staged:
            self.io.flush("meta")
            self.io.settle()  # adopted only once the writes and the flush are known to have worked
            for name, image in staged:
                self.maps[name] = image

    def commit(self, state, protect):
        """Generation g+1 to the slot not holding g, FUA: durable on return, the old slot intact."""
        generation = self.generation + 1
        self.commit_in_doubt = True
        self.io.write("meta", (generation % 2) * self.layout.sector, encode_superblock(self.layout, state, protect, generation), fua=True)
        self.io.settle()
        self.commit_in_doubt = False
        self.state, self.protect, self.generation = state, protect, generation

    # --- format and recovery ----------------------------------------------------------------

    def format(self, delta):
        layout = self.layout
        image = bytearray(layout.total)
        bits = range(layout.extents) if delta == "all" else [] if delta == "none" else [e for e, b in enumerate(delta) if b]
        for e in bits:
            image[layout.delta_at * layout.sector + (e >> 3)] |= 1 << (e & 7)
        image[layout.sector:2 * layout.sector] = encode_superblock(layout, 0, True, 1)
        self.io.write("meta", 0, image)
        self.io.flush("meta")

    def open(self):
        layout = self.layout
        slots = self.io.read("meta", 0, 2 * layout.sector)
        found = [decode_superblock(layout, slots[i * layout.sector:(i + 1) * layout.sector]) for i in range(2)]
        valid = [sb for sb in found if sb is not None]
        if not valid:
            raise MetadataError("no valid superblock in either slot")
        sb = max(valid, key=lambda s: s["generation"])
        self.state, self.protect, self.generation = sb["state"], sb["protect"], sb["generation"]
        map_bytes = layout.map_sectors * layout.sector
        self.maps["D"] = self.io.read("meta", layout.delta_at * layout.sector, map_bytes)
        self.maps["P"] = self.io.read("meta", layout.protected_at * layout.sector, map_bytes)
        if self.state == 1:
            p_bits = [e for e in range(layout.extents) if self.bit("P", e)]
            # A crash between the D and P sector writes can leave P without D: repair P within D.
            self.persist([("D", p_bits, True)])
            if not self.protect:
                # Mirrored writes may have reached one device only: re-copy those extents.
                self.persist([("P", p_bits, False)])

    # --- host I/O ---------------------------------------------------------------------------

    def extents_of(self, offset, length):
        first = offset // self.layout.extent_bytes
        last = (offset + length - 1) // self.layout.extent_bytes
        return list(range(first, last + 1)) if length > 0 else []

    def reads_from_clone(self, e):
        return "read-source" not in BUGS and self.needs_copy(e)

    def read_source(self, offset, length):
        if self.state == 0:
            return self.io.read("source", offset, length)
        # Each run of extents read from the same device is one request: a round trip per run, not per extent.
        out = bytearray()
        size = self.layout.extent_bytes
        at, end = offset, offset + length
        while at < end:
            device = "clone" if self.reads_from_clone(at // size) else "source"
            upto = (at // size + 1) * size
            while upto < end and ("clone" if self.reads_from_clone(upto // size) else "source") == device:
                upto += size
            upto = min(end, upto)
            out += self.io.read(device, at, upto - at)
            at = upto
        return out

    def write_source(self, offset, data):
        extents = self.extents_of(offset, len(data))
        if self.state == 0:
            # Write intent: D durable before the data, or a crash leaves a clear bit over a change.
            self.persist([("D", extents, True)])
            self.io.write("source", offset, data)
            return
        unprotected = [e for e in extents if not self.bit("P", e)]
        if unprotected:
            uncopied = [e for e in unprotected if self.needs_copy(e)]
            if uncopied:
                # Copy-before-write, durable before P: else the uncovered part stays stale for good.
                self.copy(uncopied)
                self.make_copies_durable()
            # P (with D) durable before the data: else a flushed host write is overwritten by the copier.
            self.persist([("D", unprotected, True), ("P", unprotected, True)])
        if self.protect:
            self.io.write("source", offset, data)
            return
        try:
            self.clone_dirty = True
            self.io.write("clone", offset, data)
            self.io.write("source", offset, data)
            self.io.settle()
        except IoFailed:
            for e in extents:  # the two may differ now: send them back to the copier
                self.maps["P"][e >> 3] &= ~(1 << (e & 7)) & 0xFF
            raise

    def flush_source(self):
        if self.state == 1 and not self.protect:
            self.flush_clone_mirror()
        self.io.flush("source")

    def flush_clone_mirror(self):
        self.io.flush("clone")
        self.io.settle()
        self.clone_dirty = False

    def clone_op(self, name):
        if self.state == 1:
            raise CloneBusy(f"clone busy: {name} is not allowed while a restore is in progress")

    def read_clone(self, offset, length):
        self.clone_op("readClone")
        return self.io.read("clone", offset, length)

    def write_clone(self, offset, data):
        self.clone_op("writeClone")
        self.persist([("D", self.extents_of(offset, len(data)), True)])
        self.io.write("clone", offset, data)

    def flush_clone(self):
        self.clone_op("flushClone")
        self.io.flush("clone")

    # --- restore ----------------------------------------------------------------------------

    def copy(self, extents):
        for e in extents:
            offset = e * self.layout.extent_bytes
            length = min(self.layout.extent_bytes, self.layout.volume - offset)
            self.io.write("source", offset, self.io.read("clone", offset, length))

    def make_copies_durable(self):
        if "no-flush-before-clear" in BUGS:
            return
        if self.clone_dirty:
            self.flush_clone_mirror()
        self.io.flush("source")

    def start_restore(self, protect):
        if self.state == 1:
            raise StateError("startRestore: a restore is already in progress")
        self.io.flush("clone")  # the image being restored must not change under the restore
        self.persist([("P", range(self.layout.extents), False)])  # stale P would skip extents
        self.commit(1, protect)

    def remaining(self):
        return sum(1 for e in range(self.layout.extents) if self.needs_copy(e))

    def step(self):
        if self.state == 0:
            return {"remaining": 0, "done": True}
        todo = next((e for e in range(self.layout.extents) if self.needs_copy(e)), None)
        if todo is not None:
            self.copy([todo])
            self.make_copies_durable()  # data durable before the D bit clears
            self.persist([("D", [todo], False)])
        left = self.remaining()
        if left > 0:
            return {"remaining": left, "done": False}
        if not self.protect:
            self.flush_clone_mirror()
            self.io.flush("source")
            self.persist([("D", range(self.layout.extents), False)])
        self.commit(0, self.protect)
        return {"remaining": 0, "done": True}

    def status(self):
        if self.state == 0:
            return {"state": "fractured"}
        return {"state": "restoring", "protect": self.protect, "extentsRemaining": self.remaining()}

    def inspect(self):
        n = self.layout.extents
        return {"delta": [self.bit("D", e) for e in range(n)], "protected": [self.state == 1 and self.bit("P", e) for e in range(n)]}


def handle(engine, method, args, data):
    if method == "metadataSize":
        return Layout(args["geometry"]).total
    if engine is None:
        raise StateError(f"{method} before open or format")
    if engine.commit_in_doubt and method not in ("format", "open"):
        engine.commit(engine.state, engine.protect)  # make the disk agree with memory again
    calls = {
        "format": lambda: engine.format(args["delta"]),
        "open": engine.open,
        "readSource": lambda: engine.read_source(args["offset"], args["length"]),
        "writeSource": lambda: engine.write_source(args["offset"], data),
        "flushSource": engine.flush_source,
        "readClone": lambda: engine.read_clone(args["offset"], args["length"]),
        "writeClone": lambda: engine.write_clone(args["offset"], data),
        "flushClone": engine.flush_clone,
        "startRestore": lambda: engine.start_restore(args["protect"]),
        "step": engine.step,
        "status": engine.status,
        "inspect": engine.inspect,
    }
    if method not in calls:
        raise EngineError(f"unknown method {method}")
    return calls[method]()


def main():
    args = sys.argv[1:]
    while args:
        flag = args.pop(0)
        if flag == "--bug" and args:
            BUGS.add(args.pop(0))
        else:
            sys.exit(f"usage: python_engine.py [--bug no-flush-before-clear|read-source]; unknown argument {flag}")
    framing = JsonLines()
    framing.send({"type": "hello", "protocol": PROTOCOL, "version": VERSION, "name": "python-example", "capabilities": ["inspect", "stateless", "binary", "pipeline"]})
    # The harness's first line accepts the binary framing, or is already a call in JSON.
    first = STDIN.readline() or sys.exit(0)
    pending = None
    accepted = json.loads(first)
    if accepted.get("type") == "framing":
        framing = Frames(accepted.get("pipeline") is True)
    else:
        pending = framing.next_call(first)
    engine = None
    while True:
        call_id, method, call_args, data = pending or framing.next_call()
        pending = None
        try:
            if method in ("format", "open"):
                engine = Engine(call_args["geometry"], framing)
            value = handle(engine, method, call_args, data)
            framing.settle()  # every answer read before the call's: it fails with the first error
            framing.answer(call_id, value)
        except EngineError as e:
            framing.error(call_id, e.kind, str(e))
        except PowerLoss:
            # Everything of the instance is in `engine` (BUGS is the command line's): drop it, keep
            # the process. That is what declaring "stateless" promises.
            engine = None
            framing.error(call_id, "power-loss", "power lost")


if __name__ == "__main__":
    main()
