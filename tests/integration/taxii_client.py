#!/usr/bin/env python3
"""A minimal TAXII 2.1 client for the integration tests (taxii_test.cpp).

Debian packages no TAXII client library, so this one is Python's standard
library: urllib over ssl, verifying the endpoint's certificate against the
file given (--cafile) and its host name, as MISP and OpenCTI do when told to
verify. One request per run; prints one JSON document:
  {"status": 200, "headers": {"content-type": ...}, "body": <JSON or text>}
"""
import argparse
import base64
import json
import ssl
import sys
import urllib.error
import urllib.request


def main():
    p = argparse.ArgumentParser()
    p.add_argument("url")
    p.add_argument("--cafile", required=True)
    p.add_argument("--user")
    p.add_argument("--password")
    p.add_argument("--method", default="GET")
    p.add_argument("--accept", default="application/taxii+json;version=2.1")
    a = p.parse_args()

    ctx = ssl.create_default_context(cafile=a.cafile)
    ctx.check_hostname = True
    headers = {}
    if a.accept:
        headers["Accept"] = a.accept
    if a.user is not None:
        token = base64.b64encode(f"{a.user}:{a.password}".encode()).decode()
        headers["Authorization"] = "Basic " + token
    data = b"{}" if a.method in ("POST", "PUT") else None
    req = urllib.request.Request(a.url, data=data, headers=headers, method=a.method)
    try:
        with urllib.request.urlopen(req, context=ctx, timeout=30) as r:
            status, hdrs, raw = r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        status, hdrs, raw = e.code, e.headers, e.read()
    text = raw.decode("utf-8", "replace")
    try:
        body = json.loads(text)
    except ValueError:
        body = text
    out = {"status": status, "headers": {k.lower(): v for k, v in hdrs.items()}, "body": body}
    json.dump(out, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
