#!/usr/bin/python3
"""BENCHMARKS.md from bench/guest.sh's RESULT lines.

  table.py RESULTS STARTED SIZES
"""
import os
import platform
import subprocess
import sys


def read_results(path):
    results = {}
    with open(path) as f:
        for line in f:
            if line.startswith("RESULT "):
                _, key, *value = line.rstrip("\n").split(" ")
                results[key] = " ".join(value)
    return results


def seconds(r, key):
    return float(r[key])


def verdict(ok):
    return "yes" if ok else "**no**"


def rows_for(r, n):
    install_x, install_ip = seconds(r, f"{n}.install.xfrmctl"), seconds(r, f"{n}.install.ip")
    reapply, change = seconds(r, f"{n}.reapply.xfrmctl"), seconds(r, f"{n}.change1")
    reapply_d, change_d = seconds(r, f"{n}.reapply.xfrmd"), seconds(r, f"{n}.change1.xfrmd")
    writes_d = int(r[f"{n}.change1.xfrmd.writes"])
    status, status_d = seconds(r, f"{n}.status.xfrmctl"), seconds(r, f"{n}.status.xfrmd")
    remove_x, remove_ip = seconds(r, f"{n}.remove.xfrmctl"), seconds(r, f"{n}.remove.ip")
    rss = int(r[f"{n}.xfrmd.rss_kib"]) / 1024
    writes = int(r[f"{n}.change1.writes"])
    ratio = install_ip / install_x
    return [
        (f"install {n} from empty ({r[f'{n}.entries']} SAs/policies)", f"{install_x:.3f} s", f"ip -batch {install_ip:.3f} s",
         f"{ratio:.1f}x faster", "≥ 10x", verdict(ratio >= 10)),
        (f"re-apply {n}, nothing to do", f"{reapply:.3f} s", f"install {install_x:.3f} s",
         f"{100 * reapply / install_x:.2f} %", "< 5 %", verdict(reapply / install_x < 0.05)),
        (f"change 1 tunnel of {n}", f"{change:.3f} s, {writes} kernel writes", f"install {install_x:.3f} s",
         f"{100 * change / install_x:.2f} %", "< 1 %, that tunnel's writes only",
         verdict(change / install_x < 0.01 and writes == 6)),
        (f"re-apply {n}, handed to xfrmd", f"{reapply_d:.3f} s", f"install {install_x:.3f} s",
         f"{100 * reapply_d / install_x:.2f} %", "< 5 %", verdict(reapply_d / install_x < 0.05)),
        (f"change 1 tunnel of {n}, handed to xfrmd", f"{change_d:.3f} s, {writes_d} kernel writes",
         f"install {install_x:.3f} s", f"{100 * change_d / install_x:.2f} %", "< 1 %, that tunnel's writes only",
         verdict(change_d / install_x < 0.01 and writes_d == 6)),
        (f"remove {n} (down --all)", f"{remove_x:.3f} s", f"ip -batch {remove_ip:.3f} s",
         f"{remove_ip / remove_x:.1f}x faster", "-", "-"),
        (f"status --json, {r[f'{n}.status.tunnels']} tunnels", f"{status:.3f} s (via xfrmd {status_d:.3f} s)",
         f"install {install_x:.3f} s", f"{100 * status / install_x:.1f} % ({100 * status_d / install_x:.1f} %)",
         "< 10 %", verdict(max(status, status_d) / install_x < 0.10)),
        (f"xfrmd resident memory, {n} tunnels", f"{rss:.1f} MiB", "-", "-", "< 64 MiB" if n >= 10000 else "-",
         verdict(rss < 64) if n >= 10000 else "-"),
    ]


def main():
    r = read_results(sys.argv[1])
    started, sizes = sys.argv[2], [int(n) for n in sys.argv[3].split()]
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                            cwd=os.path.dirname(os.path.abspath(__file__))).stdout.strip()
    print("# Benchmarks\n")
    print("Made by `bench/run` (the command reproduces it: `cmake --build build && bench/run`), "
          f"{started}, commit {commit or 'unknown'}.")
    print(f"Machine: {platform.node()}, {os.cpu_count()} cores, host kernel {platform.release()}; "
          f"measured inside User-Mode Linux {r.get('kernel', '?')} (mem=768M), one boot for all figures.")
    print("Each figure is one run; baselines are taken in the same boot, back to back, in a fresh network "
          "namespace each (xfrmctl and iproute2 never share tables). Tunnels: ESP, tunnel mode, aes256gcm16, "
          "one subnet pair each: 2 SAs and 3 policies (out, in, fwd) per tunnel, the same entries for both "
          "(checked: `ip xfrm` lists them identically but for keys). Ratios, not times, are what carries over "
          "to other machines.\n")
    print("| work | xfrmctl | baseline | ratio | target | met |")
    print("|---|---|---|---|---|---|")
    for n in sizes:
        for row in rows_for(r, n):
            print("| " + " | ".join(row) + " |")
    for n in sizes:
        print(f"\nChange of one tunnel of {n}: the entries touched were those of the subnets "
              f"{r.get(f'{n}.change1.touched', '?').strip()} (handed to xfrmd: "
              f"{r.get(f'{n}.change1.xfrmd.touched', '?').strip()}); left after removal (ip, xfrmctl): "
              f"{r.get(f'{n}.left', '?')}.")


def analysis():
    """The hand-written profile notes (bench/analysis.md), when there are any."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "analysis.md")
    if os.path.exists(path):
        with open(path) as f:
            print("\n" + f.read().rstrip())


if __name__ == "__main__":
    main()
    analysis()
