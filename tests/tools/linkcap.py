#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""What a relay's link port carries, from a packet capture (tcpdump -i lo -w FILE).

Reassembles every TCP connection in the capture, in both directions, and parses it as an
umbra link (docs/PROTOCOL.md 2.2 and 2.5): the initiator's version and pattern bytes, the
length-prefixed Noise handshake frames (NK: msg1 / msg2; XK: msg1 / msg2 / msg3), then records.
Prints one JSON object:

  {"connections": [{"initiator": "ip:port", "responder": "ip:port", "pattern": "NK"|"XK",
                    "records": [i2r, r2i], "bad_tail": [bytes, bytes],
                    "handshake_ok": bool}],
   "forbidden_hits": [{"needle": hex, "connection": k, "direction": "i2r"|"r2i"}]}

bad_tail is what is left after the last whole 530-byte record (0 when every byte after the
handshake is whole records). --forbid HEX (repeatable) searches every direction's bytes for
a byte string that must never cross this port in the clear (a destination name, a payload).

usage: linkcap.py CAPTURE.pcap [--port P ...] [--forbid HEX ...]
"""
import argparse
import json
import struct
import sys

RECORD = 530
FRAME_MIN, FRAME_MAX = 48, 1024


def packets(path):
    """(src, sport, dst, dport, flags, seq, payload) for each TCP segment."""
    with open(path, "rb") as f:
        data = f.read()
    magic = struct.unpack("<I", data[:4])[0]
    if magic in (0xA1B2C3D4, 0xA1B23C4D):
        end = "<"
    elif magic in (0xD4C3B2A1, 0x4D3CB2A1):
        end = ">"
    else:
        sys.exit("linkcap: %s is not a pcap file (write it with tcpdump -w)" % path)
    linktype = struct.unpack(end + "I", data[20:24])[0]
    off = 24
    while off + 16 <= len(data):
        _, _, caplen, _ = struct.unpack(end + "IIII", data[off:off + 16])
        pkt = data[off + 16:off + 16 + caplen]
        off += 16 + caplen
        if linktype == 1:  # Ethernet (Linux lo)
            if len(pkt) < 14:
                continue
            etype = struct.unpack(">H", pkt[12:14])[0]
            ip = pkt[14:]
        elif linktype == 113:  # Linux cooked (-i any)
            etype = struct.unpack(">H", pkt[14:16])[0]
            ip = pkt[16:]
        elif linktype == 276:  # Linux cooked v2
            etype = struct.unpack(">H", pkt[0:2])[0]
            ip = pkt[20:]
        elif linktype in (0, 101):  # raw IP
            etype = 0x0800 if pkt and pkt[0] >> 4 == 4 else 0x86DD
            ip = pkt
        else:
            sys.exit("linkcap: link type %d not handled" % linktype)
        if etype == 0x0800 and len(ip) >= 20 and ip[9] == 6:
            ihl = (ip[0] & 15) * 4
            total = struct.unpack(">H", ip[2:4])[0]
            src = "%d.%d.%d.%d" % tuple(ip[12:16])
            dst = "%d.%d.%d.%d" % tuple(ip[16:20])
            tcp = ip[ihl:total]
        elif etype == 0x86DD and len(ip) >= 40 and ip[6] == 6:
            plen = struct.unpack(">H", ip[4:6])[0]
            src = "[" + ip[8:24].hex() + "]"
            dst = "[" + ip[24:40].hex() + "]"
            tcp = ip[40:40 + plen]
        else:
            continue
        if len(tcp) < 20:
            continue
        sport, dport, seq = struct.unpack(">HHI", tcp[:8])
        doff = (tcp[12] >> 4) * 4
        flags = tcp[13]
        yield src, sport, dst, dport, flags, seq, bytes(tcp[doff:])


def reassemble(path, ports):
    """{(initiator, responder): [bytes i2r, bytes r2i]} for connections whose SYN we saw."""
    conns, segs, isn = {}, {}, {}
    for src, sport, dst, dport, flags, seq, payload in packets(path):
        a, b = (src, sport), (dst, dport)
        if ports and sport not in ports and dport not in ports:
            continue
        syn, ack = flags & 0x02, flags & 0x10
        if syn and not ack:
            conns[(a, b)] = True
            isn[(a, b)] = (seq + 1) & 0xFFFFFFFF
        elif syn and ack:
            isn[(a, b)] = (seq + 1) & 0xFFFFFFFF
        if payload:
            segs.setdefault((a, b), {})
            # A retransmission repeats a sequence number: keep the first copy.
            segs[(a, b)].setdefault(seq, payload)
    out = {}
    for (a, b) in conns:
        dirs = []
        for key in ((a, b), (b, a)):
            base = isn.get(key)
            stream = bytearray()
            if base is not None:
                for seq in sorted(segs.get(key, {}), key=lambda s: (s - base) & 0xFFFFFFFF):
                    rel = (seq - base) & 0xFFFFFFFF
                    p = segs[key][seq]
                    if rel > len(stream):
                        break  # a hole: the capture lost a segment
                    stream += p[len(stream) - rel:]
            dirs.append(bytes(stream))
        out[(a, b)] = dirs
    return out


def frames(buf, off, count):
    """Skip count handshake frames from off; the offset after them, or None."""
    for _ in range(count):
        if off + 2 > len(buf):
            return None
        n = struct.unpack(">H", buf[off:off + 2])[0]
        if n < FRAME_MIN or n > FRAME_MAX or off + 2 + n > len(buf):
            return None
        off += 2 + n
    return off


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("pcap")
    ap.add_argument("--port", type=int, action="append", default=[])
    ap.add_argument("--forbid", action="append", default=[])
    args = ap.parse_args()
    needles = [bytes.fromhex(h) for h in args.forbid]
    result = {"connections": [], "forbidden_hits": []}
    for k, ((a, b), (i2r, r2i)) in enumerate(sorted(reassemble(args.pcap, set(args.port)).items())):
        c = {"initiator": "%s:%d" % a, "responder": "%s:%d" % b, "pattern": None,
             "records": [0, 0], "bad_tail": [len(i2r), len(r2i)], "handshake_ok": False}
        if len(i2r) >= 2 and i2r[0] == 1 and i2r[1] in (1, 2):
            xk = i2r[1] == 2
            c["pattern"] = "XK" if xk else "NK"
            i_off = frames(i2r, 2, 2 if xk else 1)
            r_off = frames(r2i, 0, 1)
            if i_off is not None and r_off is not None:
                c["handshake_ok"] = True
                c["records"] = [(len(i2r) - i_off) // RECORD, (len(r2i) - r_off) // RECORD]
                c["bad_tail"] = [(len(i2r) - i_off) % RECORD, (len(r2i) - r_off) % RECORD]
        for n in needles:
            for d, buf in (("i2r", i2r), ("r2i", r2i)):
                if n in buf:
                    result["forbidden_hits"].append({"needle": n.hex(), "connection": k,
                                                     "direction": d})
        result["connections"].append(c)
    json.dump(result, sys.stdout, indent=1)
    print()


if __name__ == "__main__":
    main()
