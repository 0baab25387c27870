#!/usr/bin/env python3
"""Side-by-side pictures and noise-texture figures of simulated datasets of the same phantom.

  python3 docs/simulator/noise_texture.py OUT.png NAME=DATASET_DIR [NAME=DATASET_DIR ...]

Every dataset must hold subject sim0000 simulated with the same --seed (the phantom does not
depend on the grid or the options), with full.nii.gz, drf_10.nii.gz and drf_100.nii.gz and the
liver mask. Prints, per dataset and dose level, the liver's mean relative to the truth, its
coefficient of variation (noise and the phantom's own texture), the SD of (image - full dose)
relative to the mean (the noise; the full dose's own noise is 1/DRF of its variance), and the
noise texture: the autocorrelation of (image - full dose) in
the liver at a lag of one voxel and the lag where it falls to one half (mm), along x and z.
Writes a montage: a coronal slice through the liver, one row per dataset, columns DRF 1, 10, 100.
Needs numpy only (Debian: python3-numpy).
"""
import gzip
import struct
import sys
import zlib

import numpy as np


def read_nifti(path):
    raw = gzip.open(path).read()
    dims = struct.unpack('<8h', raw[40:56])
    datatype = struct.unpack('<h', raw[70:72])[0]
    pixdim = struct.unpack('<8f', raw[76:108])
    offset = int(struct.unpack('<f', raw[108:112])[0])
    dtype = {16: np.float32, 64: np.float64, 4: np.int16, 2: np.uint8}[datatype]
    n = dims[1] * dims[2] * dims[3]
    data = np.frombuffer(raw[offset:offset + n * np.dtype(dtype).itemsize], dtype=dtype)
    return data.reshape(dims[3], dims[2], dims[1]).astype(np.float64), pixdim[1:4]


def erode(mask, steps):
    out = mask.copy()
    for _ in range(steps):
        inner = out.copy()
        for axis in range(3):
            inner &= np.roll(out, 1, axis) & np.roll(out, -1, axis)
        out = inner
    return out


def autocorrelation(noise, mask, axis, lags):
    values = noise - noise[mask].mean()
    var = (values[mask] ** 2).mean()
    out = []
    for lag in lags:
        shifted = np.roll(values, -lag, axis)
        both = mask & np.roll(mask, -lag, axis)
        out.append((values[both] * shifted[both]).mean() / var)
    return out


def half_length(ac, step_mm):
    for k in range(1, len(ac)):
        if ac[k] < 0.5:
            return step_mm * (k - 1 + (ac[k - 1] - 0.5) / (ac[k - 1] - ac[k]))
    return float('nan')


def write_png(path, image):
    h, w = image.shape
    rows = b''.join(b'\x00' + image[r].astype(np.uint8).tobytes() for r in range(h))
    def chunk(kind, data):
        return struct.pack('>I', len(data)) + kind + data + struct.pack('>I', zlib.crc32(kind + data))
    png = b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', w, h, 8, 0, 0, 0, 0))
    png += chunk(b'IDAT', zlib.compress(rows, 9)) + chunk(b'IEND', b'')
    open(path, 'wb').write(png)


def main():
    out, specs = sys.argv[1], [a.split('=', 1) for a in sys.argv[2:]]
    rows = []
    print('| dataset | DRF | liver mean / truth | liver CoV | noise SD / mean | AC(1 voxel) x | AC(1) z | AC half-length x (mm) | z (mm) |')
    print('| --- | --- | --- | --- | --- | --- | --- | --- | --- |')
    for name, root in specs:
        subject = f'{root}/sim0000'
        truth, spacing = read_nifti(f'{subject}/activity.nii.gz')
        liver = read_nifti(f'{subject}/liver.nii.gz')[0] > 0.5
        inner = erode(liver, 2)
        full = read_nifti(f'{subject}/full.nii.gz')[0]
        slice_y = int(np.argmax(liver.sum(axis=(0, 2))))
        window = 3.0 * truth[inner].mean()  # liver at a third of the grey scale, as PET is read
        panels = []
        for drf, image in (('1', full), ('10', None), ('100', None)):
            if image is None:
                image = read_nifti(f'{subject}/drf_{drf}.nii.gz')[0]
            mean = image[inner].mean() / truth[inner].mean()
            cov = image[inner].std() / image[inner].mean()
            if drf == '1':
                ac = [float('nan')] * 2
                hx = hz = noise_sd = float('nan')
            else:
                noise = image - full
                noise_sd = noise[inner].std() / image[inner].mean()
                acx = autocorrelation(noise, inner, 2, range(6))
                acz = autocorrelation(noise, inner, 0, range(6))
                ac = [acx[1], acz[1]]
                hx, hz = half_length(acx, spacing[0]), half_length(acz, spacing[2])
            print(f'| {name} | {drf} | {mean:.3f} | {100 * cov:.1f}% | {100 * noise_sd:.1f}% | {ac[0]:.2f} | {ac[1]:.2f} | {hx:.1f} | {hz:.1f} |')
            coronal = np.clip(image[::-1, slice_y, :] / window, 0, 1)  # superior at the top
            panels.append(np.kron(255 * (1 - coronal), np.ones((2, 2))))  # dark on white, 2x
        rows.append(np.concatenate([np.pad(p, 2, constant_values=255) for p in panels], axis=1))
    write_png(out, np.concatenate(rows, axis=0))
    print(f'wrote {out}: rows {", ".join(n for n, _ in specs)}; columns DRF 1, 10, 100')


if __name__ == '__main__':
    main()
