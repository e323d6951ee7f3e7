#!/usr/bin/env python3
"""Runs the README's quick start as a new user would, against a real `openpush serve`.

The shell blocks of the README's "Quick start" section run in order in one bash session, in a
fresh directory, with the binary at the path the README names replaced by the one built here
and the README's address by the server's. The block that starts a device (it runs until Ctrl-C)
is left out, and `mock-vendors` runs in the background as the README says it may. Every
`#  …` answer the README shows after a command must appear in what the commands printed
(`…` matches anything), so the README cannot drift from what the server says.
"""

import os
import re
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "target", "debug", "openpush")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    readme = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()
    section = readme[readme.index("## Quick start"):readme.index("## Running it")]
    blocks = re.findall(r"```sh\n(.*?)```", section, re.S)
    port = free_port()
    script = []
    expected = []
    for b in blocks:
        if " device --org" in b:
            continue
        if "mock-vendors --register" in b:
            script.append(
                "$OP mock-vendors --register demo shop > mock-vendors.log 2>&1 &\n"
                "for i in $(seq 200); do grep -q 'mock-meizu stored' mock-vendors.log && break; sleep 0.1; done\n"
            )
            continue
        for line in b.splitlines():
            # An answer: "#  " then the text (a wider indent continues a comment); what
            # follows three spaces is a remark about it.
            m = re.match(r"#  (\S.*)", line)
            if m and not m.group(1).startswith("("):
                expected.append(re.split(r"\s{3,}", m.group(1))[0])
        script.append(b)
    text = "\n".join(script)
    text = text.replace("./target/release/openpush", BIN)
    text = text.replace("http://127.0.0.1:8099", f"http://127.0.0.1:{port}")
    with tempfile.TemporaryDirectory() as d:
        server = subprocess.Popen(
            [BIN, "serve", "--listen", f"127.0.0.1:{port}"],
            cwd=d,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            for _ in range(200):
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    time.sleep(0.1)
            run = subprocess.run(
                ["bash", "-euo", "pipefail", "-c", text + "\nkill %1 2>/dev/null || true\nwait\n"],
                cwd=d,
                capture_output=True,
                text=True,
                timeout=300,
            )
        finally:
            server.terminate()
            server.wait(timeout=60)
    out = run.stdout
    if run.returncode != 0:
        print(out, run.stderr, sep="\n")
        sys.exit(f"the quick start failed with exit code {run.returncode}")
    missing = []
    for e in expected:
        pattern = ".*?".join(re.escape(p) for p in e.split("…"))
        if not re.search(pattern, out):
            missing.append(e)
    if missing:
        print(out)
        sys.exit("README answers not printed by the commands:\n  " + "\n  ".join(missing))
    print(f"README quick start: {len(blocks) - 1} blocks ran, {len(expected)} shown answers found")


if __name__ == "__main__":
    main()
