#!/usr/bin/python3
"""The benchmark's work, given two ways: N tunnels for xfrmctl, and the same
SAs and policies as commands for iproute2's `ip -batch`.

  gen.py N DIR

writes DIR/defs/tunnels.json (N ESP tunnels, tunnel mode, aes256gcm16, one
subnet pair each), DIR/keys/ (two key files per tunnel, mode 0600),
DIR/install.batch (the same 2N SAs and 3N policies, out, in and fwd, as
xfrmctl installs them) and DIR/delete.batch (deleting exactly those).
Tunnel i: this host 192.0.2.1 with 10.0.0.0/16 behind it; the peer
198.18.(i / 250).(i % 250 + 1) with 10.(1 + i / 256).(i % 256).0/24.
"""
import json
import os
import sys

LOCAL, LOCAL_NET = "192.0.2.1", "10.0.0.0/16"
KEY_BYTES = 36  # aes256gcm16: 32-byte key and 4-byte salt
PRIORITY_BASE = 200000  # src/plan/compile.cpp: kPriorityBase


def tunnel(i):
    return {
        "name": f"t{i}",
        "remote": f"198.18.{i // 250}.{i % 250 + 1}",
        "remote_net": f"10.{1 + i // 256}.{i % 256}.0/24",
        "spi_out": 0x10000000 + i,
        "spi_in": 0x20000000 + i,
    }


def priority():
    # /16 + /24, no protocol, no ports: as automatic_priority() computes it
    return PRIORITY_BASE - ((16 + 24) << 9)


def write_key(path):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    key = os.urandom(KEY_BYTES).hex()
    os.write(fd, (key + "\n").encode())
    os.close(fd)
    return key


def main():
    n, out = int(sys.argv[1]), sys.argv[2]
    os.makedirs(f"{out}/defs", exist_ok=True)
    os.makedirs(f"{out}/keys", mode=0o700, exist_ok=True)
    tunnels, install, delete = {}, [], []
    for i in range(n):
        t = tunnel(i)
        key_out = write_key(f"{out}/keys/{t['name']}.out")
        key_in = write_key(f"{out}/keys/{t['name']}.in")
        tunnels[t["name"]] = {
            "local": {"address": LOCAL, "subnets": [LOCAL_NET]},
            "remote": {"address": t["remote"], "subnets": [t["remote_net"]]},
            "keying": {
                "method": "manual",
                "outbound": {"spi": f"0x{t['spi_out']:08x}", "key_file": f"../keys/{t['name']}.out"},
                "inbound": {"spi": f"0x{t['spi_in']:08x}", "key_file": f"../keys/{t['name']}.in"},
            },
        }
        reqid = i + 1
        # the replay window is the receiver's: xfrmctl sets it on inbound SAs
        for src, dst, spi, key, replay in ((LOCAL, t["remote"], t["spi_out"], key_out, ""),
                                           (t["remote"], LOCAL, t["spi_in"], key_in, " replay-window 128")):
            install.append(f"xfrm state add src {src} dst {dst} proto esp spi 0x{spi:08x} reqid {reqid} mode tunnel"
                           f"{replay} flag af-unspec aead 'rfc4106(gcm(aes))' 0x{key} 128")
            delete.append(f"xfrm state delete src {src} dst {dst} proto esp spi 0x{spi:08x}")
        for d, ssel, dsel, src, dst in (("out", LOCAL_NET, t["remote_net"], LOCAL, t["remote"]),
                                        ("in", t["remote_net"], LOCAL_NET, t["remote"], LOCAL),
                                        ("fwd", t["remote_net"], LOCAL_NET, t["remote"], LOCAL)):
            install.append(f"xfrm policy add src {ssel} dst {dsel} dir {d} priority {priority()} "
                           f"tmpl src {src} dst {dst} proto esp reqid {reqid} mode tunnel")
            delete.append(f"xfrm policy delete src {ssel} dst {dsel} dir {d}")
    doc = {"version": 1, "defaults": {"mode": "tunnel", "protocol": "esp", "proposal": "aes256gcm16",
                                      "replay_window": 128},
           "tunnels": tunnels}
    with open(f"{out}/defs/tunnels.json", "w") as f:
        json.dump(doc, f, indent=1)
    for name, lines in (("install", install), ("delete", delete)):
        with open(f"{out}/{name}.batch", "w") as f:
            f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
