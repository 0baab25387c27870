#!/usr/bin/env python3
"""Every source compiles without the precompiled header (CTest `sources_without_pch`).

The Release build force-includes a precompiled <torch/torch.h> into every translation unit, so a
file that uses std::nan without <cmath> still compiles there when it never includes LibTorch
itself (tests/cli/test_cli_demo.cpp did, and broke the sanitizer build). Compiling all ~200 units
again without the header would cost CI about an hour on two cores (LibTorch's headers take ~17 s
of CPU to parse per unit), so this check compiles only the units where the header can make a
difference: those that do not reach <torch/torch.h> through their own includes. A unit that
reaches it sees the same declarations with or without the force-include.

    check_without_pch.py BUILD_DIR REPO_DIR        check the build's compile_commands.json
    check_without_pch.py --self-test SCRATCH_DIR   the check must fail on a planted unit
"""
import concurrent.futures
import json
import os
import re
import shlex
import subprocess
import sys

INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]', re.M)


def reaches_torch(path, include_dirs, seen):
    """True when `path` includes <torch/torch.h>, itself or through the repository's headers."""
    if path in seen:
        return False
    seen.add(path)
    try:
        text = open(path, encoding="utf-8", errors="replace").read()
    except OSError:
        return False
    for kind, name in INCLUDE.findall(text):
        if name == "torch/torch.h":
            return True
        # Only the repository's own headers are followed; a system header other than
        # torch/torch.h does not count (it may pull in only part of LibTorch).
        candidates = ([os.path.join(os.path.dirname(path), name)] if kind == '"' else []) + [
            os.path.join(d, name) for d in include_dirs]
        for c in candidates:
            if os.path.isfile(c):
                if reaches_torch(os.path.normpath(c), include_dirs, seen):
                    return True
                break
    return False


def without_pch(arguments):
    """The compile command minus the force-included header and the outputs, as -fsyntax-only."""
    out, skip = [], 0
    for i, a in enumerate(arguments):
        if skip:
            skip -= 1
            continue
        if a in ("-include", "-o", "-MT", "-MF"):
            skip = 1
            if a == "-include" and "cmake_pch" not in arguments[i + 1]:
                out += [a, arguments[i + 1]]  # a force-include of our own, kept
            continue
        if a in ("-c", "-MD", "-Winvalid-pch") or a.endswith("ccache"):
            continue
        out.append(a)
    return out + ["-fsyntax-only"]


def check(entries, repo, jobs):
    units = []
    for e in entries:
        f = os.path.normpath(os.path.join(e["directory"], e["file"]))
        if not f.startswith(repo + os.sep) or "/generated/" in f:
            continue
        args = e["arguments"] if "arguments" in e else shlex.split(e["command"])
        include_dirs = [a[2:] for a in args if a.startswith("-I")] + [
            args[i + 1] for i, a in enumerate(args[:-1]) if a == "-isystem"]
        if not reaches_torch(f, include_dirs, set()):
            units.append((f, e["directory"], without_pch(args)))

    def compile_unit(unit):
        f, directory, args = unit
        r = subprocess.run(args, cwd=directory, capture_output=True, text=True)
        return f, r.returncode, r.stderr

    failures = 0
    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
        for f, rc, err in pool.map(compile_unit, units):
            if rc != 0:
                failures += 1
                first = [line for line in err.splitlines() if "error" in line][:3]
                print(f"{os.path.relpath(f, repo)}: does not compile without the precompiled header:")
                print("\n".join("  " + line for line in first))
    return len(units), failures


def main():
    jobs = max(1, os.cpu_count() or 1)
    if len(sys.argv) == 3 and sys.argv[1] == "--self-test":
        scratch = os.path.abspath(sys.argv[2])
        os.makedirs(scratch, exist_ok=True)
        bad = os.path.join(scratch, "uses_nan.cpp")
        with open(bad, "w") as out:
            out.write("#include <string>\ndouble f() { return std::nan(\"\"); }\n")
        good = os.path.join(scratch, "uses_string.cpp")
        with open(good, "w") as out:
            out.write("#include <string>\nstd::string g() { return \"ok\"; }\n")
        entries = [{"directory": scratch, "file": f,
                    "arguments": ["c++", "-std=c++17", "-include", "/nonexistent/cmake_pch.hxx",
                                  "-Winvalid-pch", "-c", f, "-o", f + ".o"]} for f in (bad, good)]
        n, failures = check(entries, scratch, jobs)
        if (n, failures) != (2, 1):
            print(f"self-test: expected 2 units checked and 1 failure, got {n} and {failures}")
            return 1
        print("self-test: the planted unit (std::nan without <cmath>) was caught")
        return 0
    if len(sys.argv) != 3:
        print(__doc__)
        return 2
    build, repo = (os.path.abspath(a) for a in sys.argv[1:])
    db = os.path.join(build, "compile_commands.json")
    if not os.path.isfile(db):
        print(f"{db}: no compile database (configure with CMAKE_EXPORT_COMPILE_COMMANDS=ON)")
        return 1
    entries = json.load(open(db))
    n, failures = check(entries, repo, jobs)
    print(f"{n} of {len(entries)} units do not reach <torch/torch.h> and were compiled without the "
          f"precompiled header: {failures} failed")
    return 1 if failures or n == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
