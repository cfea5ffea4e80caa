"""Validates Kubernetes manifests strictly (unknown fields are errors) against one Kubernetes version.

Built-in kinds go through kubernetes-validate's bundled schemas. The custom resources this
deployment uses (KEDA, the Secrets Store CSI driver) go through the small schemas vendored next to
this file, because kubernetes-validate only warns about kinds it has no schema for. Any other
kind is an error, so a typo in `kind` or `apiVersion` cannot slip through as "unknown".

    python k8s_validate.py --kubernetes-version 1.31.0 MANIFEST.yaml...

Prints one summary line; exits 1 with one line per problem.
"""
import argparse
import json
import sys
from pathlib import Path

import jsonschema
import yaml
from kubernetes_validate import utils as kv
from kubernetes_validate.version import __version__ as kv_version
from referencing import Registry, Resource

SCHEMAS = Path(__file__).resolve().parent / "schemas"


def custom_schemas(kubernetes_version: str) -> dict:
    """(apiVersion, kind) -> validator, with ObjectMeta from the same Kubernetes version."""
    definitions = kv.schema_contents(
        f"kubernetes-json-schema/v{kubernetes_version}-local-strict/_definitions.json",
        kubernetes_version,
    )
    registry = Resource.from_contents(definitions) @ Registry()
    validators = {}
    for path in sorted(SCHEMAS.glob("*.json")):
        schema = json.loads(path.read_text(encoding="utf-8"))
        props = schema["properties"]
        key = (props["apiVersion"]["const"], props["kind"]["const"])
        validators[key] = jsonschema.Draft202012Validator(schema, registry=registry)
    return validators


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--kubernetes-version", required=True)
    parser.add_argument("files", nargs="+")
    args = parser.parse_args()
    version = args.kubernetes_version
    supported = kv.all_versions()
    if version not in supported:
        print(f"kubernetes-validate {kv_version} has no schemas for {version} "
              f"(it has {supported[0]}..{supported[-1]})")
        return 1
    custom = custom_schemas(version)

    problems, core, crds = [], 0, 0
    for name in args.files:
        try:
            with open(name, encoding="utf-8") as fh:
                docs = [d for d in yaml.safe_load_all(fh) if d]
        except (OSError, yaml.YAMLError) as e:
            problems.append(f"{name}: {e}")
            continue
        for doc in docs:
            what = f"{name}: {doc.get('kind')}/{(doc.get('metadata') or {}).get('name')}"
            key = (doc.get("apiVersion"), doc.get("kind"))
            if key in custom:
                errors = sorted(custom[key].iter_errors(doc), key=lambda e: list(e.path))
                for e in errors:
                    problems.append(f"{what}: {'.'.join(map(str, e.path))}: {e.message}")
                crds += 1
                continue
            core += 1
            try:
                kv.validate(doc, version, strict=True)
            except kv.ValidationError as e:
                problems.append(f"{what}: {'.'.join(map(str, e.path))}: {e.message}")
            except kv.SchemaNotFoundError as e:
                core -= 1
                problems.append(f"{what}: {e.message} (and no vendored schema in {SCHEMAS.name}/)")

    for p in problems:
        print(p)
    status = "FAILED" if problems else "ok"
    print(f"kubernetes-validate {kv_version} (Kubernetes {version}, strict): {status}: "
          f"{core} built-in + {crds} custom resources, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
