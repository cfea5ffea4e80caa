"""The deployment checks no off-the-shelf tool does, for infra/deploy/check.

  - every COMMERCE_* variable the deployment files set is one the code reads;
  - every component of `commerce serve` has its Deployment, wired the way the binary expects
    (args, service account, port and probes, the settings and secret files it needs), and the
    migrate Job runs `commerce migrate`;
  - secrets as on ECS: the database / Redis URLs are configuration without a password, the
    passwords come as files (COMMERCE_*_PASSWORD_FILE) that the pod's SecretProviderClass
    actually provides, and only the Redis users get Redis settings;
  - no file carries an absolute path of somebody's machine;
  - every kustomization's resources exist, and every manifest is in a kustomization;
  - the Terraform files parse (HCL), standing in for `terraform validate` when it cannot run.

    python project_checks.py REPO_ROOT [BUILT_MANIFESTS.yaml]

Without the built (kustomized) manifests the component checks read the files themselves.
Prints one summary line; exits 1 with one line per problem.
"""
import re
import sys
from pathlib import Path
from urllib.parse import urlsplit

import hcl2
import yaml

# The components of `commerce serve <component>`: the port each listens on (the ops port for the
# workers), the variable that sets its listen address, and whether it reads Redis.
COMPONENTS = {
    "command-api": (8080, "COMMERCE_COMMAND_API_ADDR", False),
    "read-api": (8081, "COMMERCE_READ_API_ADDR", True),
    "auth": (8084, "COMMERCE_AUTH_ADDR", False),
    "catalog-projector": (9090, "COMMERCE_OPS_ADDR", True),
    "cart-projector": (9090, "COMMERCE_OPS_ADDR", True),
    "orders-projector": (9090, "COMMERCE_OPS_ADDR", False),
    "analytics-projector": (9090, "COMMERCE_OPS_ADDR", False),
    "notifications-projector": (9090, "COMMERCE_OPS_ADDR", False),
    "ledger-projector": (9090, "COMMERCE_OPS_ADDR", False),
    "webhooks": (9090, "COMMERCE_OPS_ADDR", False),
    "sagas": (8082, "COMMERCE_SAGAS_ADDR", False),
}
# Settings some components cannot run correctly without in a deployment.
REQUIRED = {
    "command-api": {"COMMERCE_TOPIC_ARN": None, "COMMERCE_RUN_RELAY": "true", "COMMERCE_JWKS_URL": None},
    "read-api": {"COMMERCE_JWKS_URL": None},
    "auth": {"COMMERCE_JWKS_URL": None},
    "sagas": {"COMMERCE_PAYMENT_URL": None, "COMMERCE_PAYMENT_SIMULATOR_ADDR": "off"},
}
# Secrets never travel as plain variables in the Kubernetes manifests, and the emulator's endpoint
# never reaches AWS. The URLs are configuration (no password in them, see URLS); the passwords
# come from the same Secrets Manager entries as on ECS, as files (COMMERCE_*_PASSWORD_FILE), so
# whole-URL secrets (*_URL_FILE) are not used either.
FORBIDDEN_IN_KUBERNETES = {"COMMERCE_DATABASE_PASSWORD", "COMMERCE_REDIS_PASSWORD",
                           "COMMERCE_DATABASE_URL_FILE", "COMMERCE_REDIS_URL_FILE",
                           "COMMERCE_JWT_SECRET", "COMMERCE_AWS_ENDPOINT", "COMMERCE_LOCAL_MODE",
                           "COMMERCE_WEBHOOK_LOCAL_TARGETS"}
# Plain-configuration URLs that must not carry a password.
URLS = ("COMMERCE_DATABASE_URL", "COMMERCE_REDIS_URL")
CSI_DRIVER = "secrets-store.csi.k8s.io"
# Interpolated by `docker compose` itself (image name, the local Postgres password), not read by
# the binary.
COMPOSE_ONLY = {"COMMERCE_IMAGE", "COMMERCE_POSTGRES_PASSWORD"}
# Built from pieces so this file does not match itself.
MACHINE_PATHS = ["/" + p + "/" for p in ("work", "home", "root", "tmp", "Users")]

NAME = re.compile(r"COMMERCE_[A-Z0-9_]*[A-Z0-9]")


class Checks:
    def __init__(self, root: Path):
        self.root = root
        self.deploy = root / "infra" / "deploy"
        self.problems = []
        self.counts = {}

    def problem(self, text):
        self.problems.append(text)

    def rel(self, path: Path) -> str:
        return str(path.relative_to(self.root))

    # -- the variables the code reads -------------------------------------------------------------
    def code_names(self):
        names, file_suffix = set(), False
        for path in self.root.rglob("*.rs"):
            parts = set(path.relative_to(self.root).parts)
            if parts & {"target", "tests", "node_modules", ".local"}:
                continue
            text = path.read_text(encoding="utf-8", errors="replace")
            names |= set(NAME.findall(text))
            # platform::config::env_secret reads NAME_FILE for a secret NAME.
            file_suffix |= bool(re.search(r"\{[a-z_]*\}_FILE", text))
        return names, file_suffix

    def deployment_files(self):
        files = [p for p in self.deploy.rglob("*") if p.is_file() and ".terraform" not in p.parts
                 and "scan" not in p.relative_to(self.deploy).parts[:1] and p.name != "check"
                 and not p.name.endswith(".md")]
        workflows = self.root / ".github" / "workflows"
        if workflows.is_dir():
            files += sorted(p for p in workflows.iterdir() if p.is_file())
        return sorted(files)

    def check_variable_names(self):
        known, file_suffix = self.code_names()
        used = 0
        for path in self.deployment_files():
            text = path.read_text(encoding="utf-8", errors="replace")
            for name in sorted(set(NAME.findall(text))):
                used += 1
                if name in known:
                    continue
                if name in COMPOSE_ONLY:
                    if path.name != "compose.yaml":
                        self.problem(f"{self.rel(path)}: {name} is compose's own variable, used outside compose.yaml")
                    continue
                if name.endswith("_FILE") and file_suffix and name[: -len("_FILE")] in known:
                    continue
                self.problem(f"{self.rel(path)}: {name} is not read by the code")
        self.counts["variables"] = used

    # -- no machine-specific paths -------------------------------------------------------------
    def check_paths(self):
        for path in self.deployment_files() + [self.deploy / "check"]:
            if not path.exists():
                continue
            text = path.read_text(encoding="utf-8", errors="replace")
            for marker in MACHINE_PATHS:
                if marker in text:
                    line = text[: text.index(marker)].count("\n") + 1
                    self.problem(f"{self.rel(path)}:{line}: machine-specific absolute path ({marker}...)")

    # -- kustomizations ------------------------------------------------------------------------
    def check_kustomizations(self):
        k8s = self.deploy / "kubernetes"
        referenced = set()
        for kfile in sorted(k8s.rglob("kustomization.yaml")):
            doc = yaml.safe_load(kfile.read_text(encoding="utf-8")) or {}
            referenced.add(kfile)
            for entry in (doc.get("resources") or []) + (doc.get("components") or []):
                target = (kfile.parent / entry).resolve()
                if not target.exists():
                    self.problem(f"{self.rel(kfile)}: lists {entry}, which does not exist")
                elif target.is_dir() and not (target / "kustomization.yaml").exists():
                    self.problem(f"{self.rel(kfile)}: {entry} is a directory without a kustomization.yaml")
                referenced.add(target)
        for manifest in sorted(k8s.rglob("*.yaml")):
            if manifest.resolve() not in referenced and manifest not in referenced:
                self.problem(f"{self.rel(manifest)}: not listed in any kustomization.yaml")

    # -- the components ------------------------------------------------------------------------
    def load_manifests(self, built):
        if built:
            docs = list(yaml.safe_load_all(Path(built).read_text(encoding="utf-8")))
        else:
            docs = []
            for path in sorted((self.deploy / "kubernetes").rglob("*.yaml")):
                if path.name != "kustomization.yaml":
                    docs += list(yaml.safe_load_all(path.read_text(encoding="utf-8")))
        return [d for d in docs if isinstance(d, dict)]

    def check_components(self, built):
        docs = self.load_manifests(built)
        config_maps = {d["metadata"]["name"]: d.get("data") or {} for d in docs if d.get("kind") == "ConfigMap"}
        deployments = {d["metadata"]["name"]: d for d in docs if d.get("kind") == "Deployment"}
        self.provider_classes = {d["metadata"]["name"]: d for d in docs if d.get("kind") == "SecretProviderClass"}
        for name in sorted(deployments):
            if name.removeprefix("commerce-") not in COMPONENTS:
                self.problem(f"Deployment {name}: not a component of `commerce serve`")
        for component, (port, addr_var, redis) in COMPONENTS.items():
            name = f"commerce-{component}"
            if name not in deployments:
                self.problem(f"component {component}: no Deployment {name}")
                continue
            pod = deployments[name]["spec"]["template"]["spec"]
            where = f"Deployment {name}"
            if pod.get("serviceAccountName") != name:
                self.problem(f"{where}: serviceAccountName is not {name}")
            containers = pod.get("containers") or []
            if len(containers) != 1:
                self.problem(f"{where}: expected one container")
                continue
            c = containers[0]
            if c.get("args") != ["serve", component]:
                self.problem(f"{where}: args are {c.get('args')}, not ['serve', '{component}']")
            env = self.environment(c, config_maps, where)
            needed = {"COMMERCE_DATABASE_URL": None, "COMMERCE_DATABASE_PASSWORD": None, addr_var: None,
                      **REQUIRED.get(component, {})}
            if redis:
                needed["COMMERCE_REDIS_URL"] = None
                needed["COMMERCE_REDIS_PASSWORD"] = None
            else:
                for var in ("COMMERCE_REDIS_URL", "COMMERCE_REDIS_PASSWORD_FILE"):
                    if var in env:
                        self.problem(f"{where}: {var} is set, but {component} does not use Redis")
            for var, value in needed.items():
                have = env.get(var, env.get(f"{var}_FILE"))
                if have is None:
                    self.problem(f"{where}: {var} (or {var}_FILE) is not set")
                elif value is not None and have != value:
                    self.problem(f"{where}: {var} is {have!r}, not {value!r}")
            if not str(env.get(addr_var, "")).endswith(f":{port}"):
                self.problem(f"{where}: {addr_var} does not listen on :{port}")
            self.check_secret_files(c, env, where, pod)
            ports = {p.get("name"): p.get("containerPort") for p in c.get("ports") or []}
            for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
                get = (c.get(probe) or {}).get("httpGet") or {}
                probe_port = ports.get(get.get("port"), get.get("port"))
                if get.get("path") != path or probe_port != port:
                    self.problem(f"{where}: {probe} must GET {path} on :{port}")
        jobs = [d for d in docs if d.get("kind") == "Job" and d["metadata"]["name"] == "commerce-migrate"]
        if not jobs:
            self.problem("no Job commerce-migrate")
        for job in jobs:
            c = job["spec"]["template"]["spec"]["containers"][0]
            if c.get("args") != ["migrate"]:
                self.problem("Job commerce-migrate: args are not ['migrate']")
            env = self.environment(c, config_maps, "Job commerce-migrate")
            for var in ("COMMERCE_DATABASE_URL", "COMMERCE_DATABASE_PASSWORD"):
                if var not in env and f"{var}_FILE" not in env:
                    self.problem(f"Job commerce-migrate: {var} (or _FILE) is not set")
            self.check_secret_files(c, env, "Job commerce-migrate", job["spec"]["template"]["spec"])
        self.counts["components"] = len(COMPONENTS)

    def environment(self, container, config_maps, where):
        env = {}
        for source in container.get("envFrom") or []:
            ref = (source.get("configMapRef") or {}).get("name")
            if source.get("secretRef"):
                self.problem(f"{where}: secrets come as files, not envFrom secretRef")
            elif ref not in config_maps:
                self.problem(f"{where}: envFrom names ConfigMap {ref}, which is not in the manifests")
            else:
                env.update(config_maps[ref])
        for e in container.get("env") or []:
            if "valueFrom" in e and "secretKeyRef" in e["valueFrom"]:
                self.problem(f"{where}: {e['name']} comes from a Secret as a variable; mount it as a file")
            env[e["name"]] = e.get("value")
        for var in sorted(FORBIDDEN_IN_KUBERNETES & set(env)):
            self.problem(f"{where}: {var} must not be set in a deployment")
        for var in URLS:
            if env.get(var) is not None:
                try:
                    password = urlsplit(str(env[var])).password
                except ValueError as e:
                    self.problem(f"{where}: {var} is not a URL: {e}")
                    continue
                if password is not None:
                    self.problem(f"{where}: {var} carries a password; it comes from {var[:-4]}_PASSWORD_FILE")
        return env

    def check_secret_files(self, container, env, where, pod):
        mounts = {m.get("mountPath", "").rstrip("/"): m.get("name") for m in container.get("volumeMounts") or []}
        volumes = {v.get("name"): v for v in pod.get("volumes") or []}
        for var, value in env.items():
            if not var.endswith("_FILE"):
                continue
            value = str(value)
            mount = next((m for m in mounts if value.startswith(m + "/")), None)
            if mount is None:
                self.problem(f"{where}: {var}={value} is not under a mounted volume")
                continue
            # A file of a Secrets Store CSI volume must be one its SecretProviderClass writes.
            csi = (volumes.get(mounts[mount]) or {}).get("csi") or {}
            if csi.get("driver") != CSI_DRIVER:
                continue
            spc = (csi.get("volumeAttributes") or {}).get("secretProviderClass")
            files = self.provider_class_files(spc, where)
            if files is not None and value[len(mount) + 1:] not in files:
                self.problem(f"{where}: {var}={value}: SecretProviderClass {spc} writes no such file "
                             f"(it writes {', '.join(sorted(files)) or 'nothing'})")

    def provider_class_files(self, name, where):
        """The file names the AWS provider writes for a SecretProviderClass, or None if unknown."""
        spc = getattr(self, "provider_classes", {}).get(name)
        if spc is None:
            self.problem(f"{where}: mounts SecretProviderClass {name}, which is not in the manifests")
            return None
        try:
            objects = yaml.safe_load((spc.get("spec", {}).get("parameters") or {}).get("objects") or "") or []
        except yaml.YAMLError as e:
            self.problem(f"SecretProviderClass {name}: objects is not YAML: {e}")
            return None
        files = set()
        for obj in objects:
            # objectAlias, else objectName with "/" turned into "_" (the provider's default).
            files.add(obj.get("objectAlias") or str(obj.get("objectName", "")).replace("/", "_"))
            files.update(j.get("objectAlias") for j in obj.get("jmesPath") or [] if j.get("objectAlias"))
        return files

    # -- compose -------------------------------------------------------------------------------
    def check_compose(self):
        path = self.deploy / "compose.yaml"
        try:
            doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as e:
            self.problem(f"{self.rel(path)}: {e}")
            return
        services = doc.get("services") or {}
        for name, service in services.items():
            for dep in service.get("depends_on") or {}:
                if dep not in services:
                    self.problem(f"{self.rel(path)}: {name} depends on {dep}, which is not a service")
        self.counts["compose services"] = len(services)

    # -- Terraform -----------------------------------------------------------------------------
    def check_terraform(self):
        files = sorted(p for p in (self.deploy / "terraform").rglob("*.tf") if ".terraform" not in p.parts)
        for path in files:
            try:
                with path.open(encoding="utf-8") as fh:
                    hcl2.load(fh)
            except Exception as e:  # the parser raises lark's various errors
                first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
                self.problem(f"{self.rel(path)}: does not parse as HCL: {first}")
        self.counts["terraform files"] = len(files)


def main() -> int:
    root = Path(sys.argv[1]).resolve()
    built = sys.argv[2] if len(sys.argv) > 2 else None
    checks = Checks(root)
    checks.check_variable_names()
    checks.check_components(built)
    checks.check_paths()
    checks.check_kustomizations()
    checks.check_compose()
    checks.check_terraform()
    for p in checks.problems:
        print(p)
    status = "FAILED" if checks.problems else "ok"
    counts = ", ".join(f"{v} {k}" for k, v in checks.counts.items())
    print(f"project checks: {status}: {counts}, {len(checks.problems)} problems")
    return 1 if checks.problems else 0


if __name__ == "__main__":
    sys.exit(main())
