#!/usr/bin/env python3
"""Validates a STIX 2.1 bundle against the vendored OASIS STIX 2.1 JSON schemas.

    stix_validate.py SCHEMA_DIR BUNDLE.json

SCHEMA_DIR is tests/data/stix2-schemas (see its README.md). Every schema is
loaded from there into a local registry keyed by its "$id", so no reference
is ever fetched from the network. Each object is validated against the
schema of its type (as the OASIS stix2-validator does); the bundle envelope
against the identifier schema; and every TLP 2.0 marking-definition against
the object OASIS publishes for that id (tlp-2.0/). Exit 0 when valid, 1 with
the problems on standard error otherwise, 2 on a usage or setup error.
"""
import json
import pathlib
import sys

import jsonschema

TYPE_SCHEMAS = {
    "report": "sdos/report.json",
    "identity": "sdos/identity.json",
    "attack-pattern": "sdos/attack-pattern.json",
    "indicator": "sdos/indicator.json",
    "relationship": "sros/relationship.json",
    "marking-definition": "common/marking-definition.json",
    "extension-definition": "common/extension-definition.json",
    "ipv4-addr": "observables/ipv4-addr.json",
    "domain-name": "observables/domain-name.json",
    "url": "observables/url.json",
}


def load_schemas(root):
    schemas = {}
    for path in sorted((root / "schemas").rglob("*.json")):
        schema = json.loads(path.read_text())
        schemas[str(path.relative_to(root / "schemas"))] = schema
    return schemas


def validator_factory(schemas):
    """A function type-schema -> validator resolving every $ref locally."""
    by_id = {s["$id"]: s for s in schemas.values()}
    try:  # jsonschema >= 4.18: the referencing registry
        from referencing import Registry, Resource
        from referencing.jsonschema import DRAFT202012

        registry = Registry().with_resources(
            (uri, Resource.from_contents(s, default_specification=DRAFT202012)) for uri, s in by_id.items()
        )

        def make(schema):
            return jsonschema.Draft202012Validator(schema, registry=registry)

    except ImportError:  # Debian 12: jsonschema 4.10, RefResolver with a store

        def make(schema):
            resolver = jsonschema.RefResolver(base_uri=schema["$id"], referrer=schema, store=dict(by_id))
            return jsonschema.Draft202012Validator(schema, resolver=resolver)

    return make


def main(argv):
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    root = pathlib.Path(argv[1])
    bundle = json.loads(pathlib.Path(argv[2]).read_text())
    schemas = load_schemas(root)
    make = validator_factory(schemas)
    problems = []

    identifier = make(schemas["common/identifier.json"])
    if bundle.get("type") != "bundle":
        problems.append("the top level is not a bundle")
    if not isinstance(bundle.get("id"), str) or not bundle["id"].startswith("bundle--"):
        problems.append("the bundle id is not bundle--UUID")
    else:
        problems += [f"bundle id: {e.message}" for e in identifier.iter_errors(bundle["id"])]
    objects = bundle.get("objects", [])
    if not isinstance(objects, list) or not objects:
        problems.append("the bundle has no objects")
        objects = []

    validators = {t: make(schemas[p]) for t, p in TYPE_SCHEMAS.items()}
    tlp_dir = root / "tlp-2.0"
    for obj in objects:
        oid = obj.get("id", "?")
        validator = validators.get(obj.get("type"))
        if validator is None:
            problems.append(f"{oid}: no vendored schema for type {obj.get('type')!r}")
            continue
        for e in sorted(validator.iter_errors(obj), key=lambda e: list(e.path)):
            problems.append(f"{oid}: {'/'.join(map(str, e.path))}: {e.message}")
        if obj.get("type") == "marking-definition":
            published = tlp_dir / f"{oid}.json"
            if published.exists():
                expected = json.loads(published.read_text())["objects"][0]
                if obj != expected:
                    problems.append(f"{oid}: differs from the TLP 2.0 marking definition OASIS publishes")

    for p in problems:
        print(p, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
