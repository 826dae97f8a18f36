#!/usr/bin/env python3
"""Helpers for scripts/test-server.sh, standard library only (python3 is there for moto anyway).

  test-server-setup.py wait PORT SECONDS        until an HTTP server answers on 127.0.0.1:PORT
  test-server-setup.py bucket s3|azure PORT NAME...   create buckets (moto) or containers (Azurite)
  test-server-setup.py sas CONTAINER            print a SAS token for one of Azurite's containers
"""
import base64
import email.utils
import hashlib
import hmac
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

# Azurite's well-known development account (public, documented by Microsoft; not a secret).
AZ_ACCOUNT = "devstoreaccount1"
AZ_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


def wait(port, seconds):
    deadline = time.monotonic() + seconds
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1)
            return
        except urllib.error.HTTPError:
            return  # any HTTP answer means the server is up
        except OSError:
            if time.monotonic() > deadline:
                sys.exit(f"test-server: nothing answers on 127.0.0.1:{port} after {seconds} s")
            time.sleep(0.1)


def send(req, what):
    try:
        urllib.request.urlopen(req, timeout=10)
    except urllib.error.HTTPError as e:
        body = e.read().decode(errors="replace")
        # Already there is fine: the scripts are idempotent.
        if e.code == 409 or "AlreadyOwnedByYou" in body or "AlreadyExists" in body:
            return
        sys.exit(f"test-server: cannot create {what}: HTTP {e.code}: {body[:300]}")


def s3_bucket(port, name):
    send(urllib.request.Request(f"http://127.0.0.1:{port}/{name}", data=b"", method="PUT"), f"bucket {name}")


def azure_container(port, name):
    # Shared Key authorization, as the Blob service defines it for version 2015-02-21 and later.
    date = email.utils.formatdate(usegmt=True)
    version = "2021-08-06"
    canonical = f"/{AZ_ACCOUNT}/{AZ_ACCOUNT}/{name}\nrestype:container"
    # Fields: verb, encoding, language, length (empty when 0), MD5, type, six more empty ones,
    # then the x-ms-* headers and the resource.
    fields = ["PUT", "", "", "", "", "application/octet-stream"] + [""] * 6
    to_sign = "\n".join(fields) + f"\nx-ms-date:{date}\nx-ms-version:{version}\n" + canonical
    sig = base64.b64encode(hmac.new(base64.b64decode(AZ_KEY), to_sign.encode(), hashlib.sha256).digest()).decode()
    headers = {
        "Content-Type": "application/octet-stream",
        "x-ms-date": date,
        "x-ms-version": version,
        "Authorization": f"SharedKey {AZ_ACCOUNT}:{sig}",
    }
    url = f"http://127.0.0.1:{port}/{AZ_ACCOUNT}/{name}?restype=container"
    req = urllib.request.Request(url, data=b"", method="PUT", headers=headers)
    send(req, f"container {name}")


def container_sas(container):
    # Service SAS for one container (sr=c), string to sign as defined for version 2020-12-06 and
    # later: read, add, create, write, delete, list; valid until 2099; over http too (Azurite has
    # no TLS here). A container SAS rather than an account SAS because Azurite refuses blob batch
    # (which deletes use) under an account SAS.
    fields = {"sv": "2021-08-06", "sr": "c", "sp": "racwdl", "st": "2020-01-01T00:00:00Z",
              "se": "2099-01-01T00:00:00Z", "spr": "https,http"}
    order = [fields["sp"], fields["st"], fields["se"], f"/blob/{AZ_ACCOUNT}/{container}", "", "", fields["spr"],
             fields["sv"], fields["sr"], "", "", "", "", "", "", ""]
    to_sign = "\n".join(order)
    sig = base64.b64encode(hmac.new(base64.b64decode(AZ_KEY), to_sign.encode(), hashlib.sha256).digest()).decode()
    return urllib.parse.urlencode({**fields, "sig": sig})


def main(argv):
    if len(argv) == 2 and argv[0] == "sas":
        return print(container_sas(argv[1]))
    if len(argv) == 3 and argv[0] == "wait":
        return wait(int(argv[1]), float(argv[2]))
    if len(argv) >= 4 and argv[0] == "bucket" and argv[1] in ("s3", "azure"):
        make = s3_bucket if argv[1] == "s3" else azure_container
        for name in argv[3:]:
            make(int(argv[2]), name)
        return
    sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
