#!/usr/bin/env python3
"""Writes an OCI image layout (oci-layout, index.json, blobs/sha256/...) of one image with one
layer, from a root filesystem directory and an image configuration, without a daemon or a
registry (scripts/build-image calls it).

The layer is deterministic: entries sorted by path, every file owned by 0:0 (uname/gname
root), mtimes set to --epoch, modes taken from the directory (scripts/build-image sets them),
gzip without a name or a time. The same inputs give the same digests.

Usage: oci_layout.py --rootfs DIR --config FILE --out DIR --tag NAME --epoch N
  --config  a JSON object: the image configuration's "config" member (User, Entrypoint, ...)
            plus optional "_annotations" for the manifest; architecture, os, created, rootfs
            and history are filled in here.
"""
import argparse
import datetime
import gzip
import hashlib
import io
import json
import os
import shutil
import stat
import sys
import tarfile


def dumps(obj):
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


class Blobs:
    def __init__(self, out):
        self.dir = os.path.join(out, "blobs", "sha256")
        os.makedirs(self.dir, exist_ok=True)

    def put_bytes(self, data):
        digest = hashlib.sha256(data).hexdigest()
        with open(os.path.join(self.dir, digest), "wb") as f:
            f.write(data)
        return "sha256:" + digest, len(data)

    def put_file(self, path):
        h = hashlib.sha256()
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        digest = h.hexdigest()
        shutil.move(path, os.path.join(self.dir, digest))
        return "sha256:" + digest, os.path.getsize(os.path.join(self.dir, digest))


class HashingWriter(io.RawIOBase):
    """Passes writes on to a file object and hashes and counts them."""

    def __init__(self, f):
        self.f, self.h, self.n = f, hashlib.sha256(), 0

    def writable(self):
        return True

    def write(self, b):
        self.h.update(b)
        self.n += len(b)
        return self.f.write(b)


def entries(rootfs):
    """(archive name, path) of everything under rootfs, parents first, sorted."""
    out = []
    for dirpath, dirnames, filenames in os.walk(rootfs):
        dirnames.sort()
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            out.append((os.path.relpath(path, rootfs), path))
    return sorted(out)


def write_layer(rootfs, epoch, gz_path):
    """Writes the gzipped tar; returns (diff_id, unpacked bytes of regular files)."""
    payload = 0
    with open(gz_path, "wb") as raw:
        with gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=9, mtime=0) as gz:
            hashing = HashingWriter(gz)
            with tarfile.open(fileobj=hashing, mode="w|", format=tarfile.PAX_FORMAT) as tar:
                for name, path in entries(rootfs):
                    st = os.lstat(path)
                    info = tarfile.TarInfo(name)
                    info.mode = stat.S_IMODE(st.st_mode)
                    info.uid = info.gid = 0
                    info.uname = info.gname = "root"
                    info.mtime = epoch
                    if stat.S_ISDIR(st.st_mode):
                        info.type = tarfile.DIRTYPE
                        tar.addfile(info)
                    elif stat.S_ISREG(st.st_mode):
                        info.size = st.st_size
                        payload += st.st_size
                        with open(path, "rb") as f:
                            tar.addfile(info, f)
                    elif stat.S_ISLNK(st.st_mode):
                        info.type = tarfile.SYMTYPE
                        info.linkname = os.readlink(path)
                        tar.addfile(info)
                    else:
                        sys.exit(f"oci_layout: {path}: not a file, directory or symlink")
    return "sha256:" + hashing.h.hexdigest(), payload


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rootfs", required=True)
    ap.add_argument("--config", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--tag", required=True)
    ap.add_argument("--epoch", type=int, required=True)
    a = ap.parse_args()

    with open(a.config) as f:
        container_config = json.load(f)
    annotations = container_config.pop("_annotations", {})
    created = datetime.datetime.fromtimestamp(a.epoch, datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%SZ")

    if os.path.exists(a.out):
        shutil.rmtree(a.out)
    os.makedirs(a.out)
    blobs = Blobs(a.out)
    tmp_layer = os.path.join(a.out, "layer.tar.gz.tmp")
    diff_id, payload = write_layer(a.rootfs, a.epoch, tmp_layer)
    layer_digest, layer_size = blobs.put_file(tmp_layer)

    image_config = {
        "created": created,
        "architecture": "amd64",
        "os": "linux",
        "config": container_config,
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        "history": [{"created": created, "created_by": "scripts/build-image",
                     "comment": "FROM scratch: memberflow, its libraries and glibc's loader"}],
    }
    config_digest, config_size = blobs.put_bytes(dumps(image_config))
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": config_digest, "size": config_size},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                    "digest": layer_digest, "size": layer_size}],
        "annotations": annotations,
    }
    manifest_digest, manifest_size = blobs.put_bytes(dumps(manifest))
    index = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
                       "digest": manifest_digest, "size": manifest_size,
                       "platform": {"architecture": "amd64", "os": "linux"},
                       "annotations": {"org.opencontainers.image.ref.name": a.tag}}],
    }
    with open(os.path.join(a.out, "index.json"), "wb") as f:
        f.write(dumps(index))
    with open(os.path.join(a.out, "oci-layout"), "wb") as f:
        f.write(dumps({"imageLayoutVersion": "1.0.0"}))
    print(json.dumps({"manifest": manifest_digest, "config": config_digest,
                      "layer": layer_digest, "layer_bytes": layer_size,
                      "unpacked_file_bytes": payload}))


if __name__ == "__main__":
    main()
