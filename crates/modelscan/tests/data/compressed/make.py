#!/usr/bin/env python3
"""Writes the fixtures in this directory with Python's own pickle, zlib, gzip, bz2,
lzma and zipfile, the way joblib's compressors (joblib/compressor.py,
joblib/numpy_pickle_compat.py) and torch.save write them. Run from anywhere:

    python3 crates/modelscan/tests/data/compressed/make.py

Each payload runs `id` when loaded. Nothing here is ever unpickled.
"""
import bz2
import io
import lzma
import os
import pickle
import zipfile
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))


class Evil:
    def __reduce__(self):
        return (os.system, ("id",))


EVIL = pickle.dumps({"model": Evil()}, protocol=4)
BENIGN = pickle.dumps({"weights": [1.0, 2.0], "name": "m"}, protocol=2)


def write(name, data):
    with open(os.path.join(HERE, name), "wb") as f:
        f.write(data)


def deflate(data, level, wbits):
    # joblib's BinaryZlibFile / BinaryGzipFile: zlib.compressobj(level, DEFLATED, wbits,
    # DEF_MEM_LEVEL, 0)
    c = zlib.compressobj(level, zlib.DEFLATED, wbits, zlib.DEF_MEM_LEVEL, 0)
    return c.compress(data) + c.flush()


# joblib.dump(obj, f, compress=3) and compress=("zlib", 3): a raw zlib stream
write("evil-zlib3.joblib", deflate(EVIL, 3, zlib.MAX_WBITS))
# compress=("gzip", 3)
write("evil-gzip3.joblib", deflate(EVIL, 3, 31))
# compress=("bz2", 3)
write("evil-bz2-3.joblib", bz2.compress(EVIL, 3))
# compress=("lzma", 3): FORMAT_ALONE, preset 3 (a 4 MiB dictionary)
write("evil-lzma3.joblib", lzma.compress(EVIL, format=lzma.FORMAT_ALONE, preset=3))
# compress=("xz", 3)
write("evil-xz3.joblib", lzma.compress(EVIL, format=lzma.FORMAT_XZ, preset=3))
# joblib < 0.10 (numpy_pickle_compat.write_zfile): b"ZF" + hex(len).ljust(19) + zlib
header = b"ZF" + hex(len(EVIL)).encode().ljust(len(hex(2**64)))
write("evil-zfile.pkl", header + zlib.compress(EVIL, 3))


def torch_zip(members):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        for name, data in members:
            z.writestr(name, data)
    return buf.getvalue()


# A torch.save-shaped zip whose tensor storage holds the payload.
write(
    "evil-in-storage.pt",
    torch_zip(
        [
            ("archive/data.pkl", BENIGN),
            ("archive/byteorder", b"little"),
            ("archive/data/0", EVIL),
            ("archive/version", b"3\n"),
        ]
    ),
)
# A zip with bytes in front that Python's zipfile still opens (offsets not adjusted).
prefixed = b"#!/bin/sh\nexit 0\n" * 8 + torch_zip([("archive/data.pkl", EVIL)])
assert zipfile.ZipFile(io.BytesIO(prefixed)).read("archive/data.pkl") == EVIL
write("evil-prefixed.zip", prefixed)
# The payload under a name and folder no loader convention uses.
write("evil-anyname.zip", torch_zip([("docs/readme.txt", EVIL), ("a/b", BENIGN)]))
