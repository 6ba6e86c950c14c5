#!/usr/bin/env python3
"""Experiment helper for a GPU host without a JDK: copies a jar with one textual replacement applied to a file
inside it (e.g. a kernel's launch bounds in cuda/switchback.cu), so variants can be built and timed in one call.

    python3 scripts/gpu/variant.py IN.jar OUT.jar cuda/switchback.cu 'OLD' 'NEW'
"""
import sys
import zipfile

src, dst, member, old, new = sys.argv[1:6]
with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
    for item in zin.infolist():
        data = zin.read(item.filename)
        if item.filename == member:
            text = data.decode("utf-8")
            if old not in text:
                sys.exit(f"{member} does not contain {old!r}")
            data = text.replace(old, new, 1).encode("utf-8")
        zout.writestr(item, data)
