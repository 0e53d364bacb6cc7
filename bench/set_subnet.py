#!/usr/bin/python3
"""Gives one tunnel of bench/gen.py's definitions its peer's subnet: the
benchmarks' "change one tunnel".

  set_subnet.py TUNNELS_JSON TUNNEL SUBNET
"""
import json
import sys

path, name, subnet = sys.argv[1:4]
with open(path) as f:
    doc = json.load(f)
doc["tunnels"][name]["remote"]["subnets"] = [subnet]
with open(path, "w") as f:
    json.dump(doc, f, indent=1)
