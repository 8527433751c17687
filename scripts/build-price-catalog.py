#!/usr/bin/env python3
"""Build cost/data/compute.csv, the GPU machine prices mlinfra ships, from SkyPilot catalogs.

Usage: scripts/build-price-catalog.py AWS_VMS_CSV GCP_VMS_CSV AZURE_VMS_CSV > cost/data/compute.csv

The inputs are extracts of skypilot-org/skypilot-catalog (Apache-2.0): catalogs/v8/aws/vms.csv,
catalogs/v8/gcp/vms.csv and catalogs/v6/azure/vms.csv, read on 2026-11-22. Output: one row
per (cloud, region, zone, instance type) with the on-demand and spot USD/hour of the whole
machine, the normalised accelerator name mlinfra uses, and the source of the row.

- GCP lists accelerator-optimized machines as a host row (vCPU + memory) and an accelerator
  row (the GPUs) per zone; a machine's price is their sum, as SkyPilot computes it.
- A price of 0 or an empty price is a missing value, and the row is left out; a spot
  price equal to the on-demand price (Azure H100 sizes) is treated as no spot offer.
- Azure's source row for Standard_ND96isr_H100_v5 says 12 GPUs; the VM has 8.
"""

import csv
import sys

AS_OF = "2026-11-22"
SRC = {
    "aws": "skypilot-catalog catalogs/v8/aws/vms.csv @00148f2a (Apache-2.0)",
    "gcp": "skypilot-catalog catalogs/v8/gcp/vms.csv @006059e0 (Apache-2.0)",
    "azure": "skypilot-catalog catalogs/v6/azure/vms.csv @098741e7 (Apache-2.0)",
}

# SkyPilot accelerator names -> mlinfra's.
NAMES = {"A100": "A100", "A100-80GB": "A100-80GB", "H100": "H100", "H200": "H200",
         "B200": "B200", "L4": "L4", "L40S": "L40S", "A10G": "A10G", "A10": "A10",
         "T4": "T4", "V100": "V100"}

GCP_HOSTS = {  # machine family prefix -> (SkyPilot accelerator, mlinfra accelerator)
    "a2-highgpu-": ("A100", "A100"), "a2-megagpu-": ("A100", "A100"),
    "a2-ultragpu-": ("A100-80GB", "A100-80GB"), "a3-highgpu-": ("H100", "H100"),
    "a3-ultragpu-": ("H200", "H200"), "a4-highgpu-": ("B200", "B200"),
    "g2-standard-": ("L4", "L4"),
}
G2_GPUS = {"4": 1, "8": 1, "12": 1, "16": 1, "32": 1, "24": 2, "48": 4, "96": 8}


def num(s):
    try:
        v = float(s)
    except (TypeError, ValueError):
        return None
    return v if v > 0 else None


def fmt(v):
    return "" if v is None else f"{v:.5f}".rstrip("0").rstrip(".")


def rows_aws(path):
    for r in csv.DictReader(open(path)):
        acc = NAMES.get(r["AcceleratorName"])
        od = num(r["Price"])
        if acc is None or od is None:
            continue
        yield ("aws", r["Region"], r["AvailabilityZone"], r["InstanceType"], acc,
               int(float(r["AcceleratorCount"])), int(float(r["vCPUs"])), float(r["MemoryGiB"]),
               od, num(r["SpotPrice"]))


def rows_gcp(path):
    hosts, gpus = [], {}
    for r in csv.DictReader(open(path)):
        if r["InstanceType"]:
            hosts.append(r)
        elif r["AcceleratorName"]:
            gpus[(r["AcceleratorName"], int(r["AcceleratorCount"]), r["AvailabilityZone"])] = r
    for h in hosts:
        name = h["InstanceType"]
        fam = next((f for f in GCP_HOSTS if name.startswith(f)), None)
        if fam is None or name.endswith("-nolssd"):
            continue
        sky, acc = GCP_HOSTS[fam]
        suffix = name[len(fam):]
        count = G2_GPUS.get(suffix) if fam == "g2-standard-" else int(suffix.rstrip("g"))
        g = gpus.get((sky, count, h["AvailabilityZone"]))
        host_od, host_spot = num(h["Price"]), num(h["SpotPrice"])
        if g is None or host_od is None or num(g["Price"]) is None:
            continue
        od = host_od + num(g["Price"])
        spot = None
        if host_spot is not None and num(g["SpotPrice"]) is not None:
            spot = host_spot + num(g["SpotPrice"])
        yield ("gcp", h["Region"], h["AvailabilityZone"], name, acc, count,
               int(float(h["vCPUs"])), float(h["MemoryGiB"]), od, spot)


def rows_azure(path):
    for r in csv.DictReader(open(path)):
        acc = NAMES.get(r["AcceleratorName"])
        od = num(r["Price"])
        if acc is None or od is None:
            continue
        count = int(float(r["AcceleratorCount"]))
        if r["InstanceType"] == "Standard_ND96isr_H100_v5":
            count = 8
        spot = num(r["SpotPrice"])
        if spot is not None and abs(spot - od) < 1e-9:
            spot = None
        yield ("azure", r["Region"], "", r["InstanceType"], acc, count,
               int(float(r["vCPUs"])), float(r["MemoryGiB"]), od, spot)


def main():
    aws, gcp, azure = sys.argv[1:4]
    out = csv.writer(sys.stdout, lineterminator="\n")
    out.writerow(["cloud", "region", "zone", "instance_type", "accelerator", "gpus", "vcpus",
                  "memory_gib", "on_demand_usd_hour", "spot_usd_hour", "source", "as_of"])
    seen = set()
    for rows in (rows_aws(aws), rows_gcp(gcp), rows_azure(azure)):
        for r in sorted(rows, key=lambda r: (r[1], r[3], r[2])):
            key = (r[0], r[1], r[2], r[3])
            if key in seen:
                continue
            seen.add(key)
            cloud, region, zone, it, acc, gpus, vcpus, mem, od, spot = r
            out.writerow([cloud, region, zone, it, acc, gpus, vcpus, fmt(mem), fmt(od), fmt(spot),
                          SRC[cloud], AS_OF])


if __name__ == "__main__":
    main()
