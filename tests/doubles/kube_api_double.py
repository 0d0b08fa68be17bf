#!/usr/bin/env python3
"""A double of the Kubernetes API server, for labctl's tests .

No Kubernetes API server can run on the test machines, so the flannel variant's steps drive the
real `kubectl` against this small, in-memory stand-in. It serves just what kubectl needs to
`apply --server-side`, `diff --server-side`, `get`, `rollout status` and `delete` flannel's
objects: legacy discovery (`/api`, `/apis`, `/api/v1`, ...), `/version`, objects of the kinds
flannel's manifest holds, and watches that report the current object. `/openapi/v3` says only
that PATCH takes `fieldValidation`, so kubectl leaves validation to the server, which this
double does not do (tests/manifests.rs validates the manifests against the real schemas).

What it is not: an API server. Server-side apply is "the applied object replaces the fields it
names" (one field manager), there is no admission, no garbage collection, no authentication.

A DaemonSet is reported rolled out at once (status counts = number of nodes), so `kubectl
rollout status` succeeds. With `--nodes FILE`, the double also plays flanneld on the sandbox's
nodes when a flannel DaemonSet is written (not on a dry run): it reads the DaemonSet's
`--iface*` arguments and the ConfigMap's net-conf.json, picks the interface as flanneld does,
and on each node creates `flannel.1` (VXLAN, local = that interface's address), writes
`/run/flannel/subnet.env` and `/etc/cni/net.d/10-flannel.conflist`, and adds the routes, ARP
and FDB entries to the other nodes, so that packets really cross the VXLAN. Only namespaces the
nodes file names are touched; nothing is sent anywhere.

Every request that reaches it is appended to `--record FILE` as one JSON line
(method, path, query, content type), so tests can assert what kubectl sent.

With `--never-ready`, a DaemonSet never rolls out (one pod wanted, none ready), for tests of
`kubectl rollout status` timing out.

Usage: kube_api_double.py --listen 127.0.0.1:0 --ready FILE [--record FILE] [--nodes FILE] [--never-ready]
`--ready FILE` receives `http://ADDRESS:PORT` once the double listens.
"""

import argparse
import copy
import json
import re
import subprocess
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

VERSION = {
    "major": "1",
    "minor": "32",
    "gitVersion": "v1.32.0-labctl-double",
    "platform": "linux/amd64",
}

# group -> version -> [(resource, kind, namespaced)]
RESOURCES = {
    "": {
        "v1": [
            ("namespaces", "Namespace", False),
            ("nodes", "Node", False),
            ("serviceaccounts", "ServiceAccount", True),
            ("configmaps", "ConfigMap", True),
            ("pods", "Pod", True),
        ]
    },
    "apps": {"v1": [("daemonsets", "DaemonSet", True)]},
    "rbac.authorization.k8s.io": {
        "v1": [
            ("clusterroles", "ClusterRole", False),
            ("clusterrolebindings", "ClusterRoleBinding", False),
        ]
    },
}

VERBS = ["create", "delete", "get", "list", "patch", "update", "watch"]

# Set by --never-ready: DaemonSets never roll out.
NEVER_READY = False


def group_version(group, version):
    return f"{group}/{version}" if group else version


def resource_info(group, version, resource):
    for name, kind, namespaced in RESOURCES.get(group, {}).get(version, []):
        if name == resource:
            return kind, namespaced
    return None


def openapi_v3(group, version):
    """Just enough OpenAPI v3 for kubectl to see that PATCH takes `fieldValidation`, so that
    it leaves validation to the server (which this double does not do) instead of asking for
    schemas to validate with on the client side."""
    if version not in RESOURCES.get(group, {}):
        return None
    prefix = f"/apis/{group}/{version}" if group else f"/api/{version}"
    paths = {}
    for name, kind, namespaced in RESOURCES[group][version]:
        where = f"{prefix}/namespaces/{{namespace}}/{name}/{{name}}" if namespaced else f"{prefix}/{name}/{{name}}"
        paths[where] = {
            "patch": {
                "x-kubernetes-group-version-kind": {"group": group, "version": version, "kind": kind},
                "parameters": [{"name": "fieldValidation", "in": "query", "schema": {"type": "string"}}],
                "responses": {},
            }
        }
    return {"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": VERSION["gitVersion"]}, "paths": paths}


class Store:
    """Objects by (group, resource, namespace, name), with a global resource version."""

    def __init__(self, nodes):
        self.lock = threading.Condition()
        self.objects = {}
        self.revision = 1
        self.nodes = nodes
        for node in nodes:
            self.put(
                "",
                "nodes",
                "",
                node["name"],
                {
                    "apiVersion": "v1",
                    "kind": "Node",
                    "metadata": {"name": node["name"]},
                    "spec": {"podCIDR": node["pod_cidr"], "podCIDRs": [node["pod_cidr"]]},
                },
            )

    def put(self, group, resource, namespace, name, obj):
        with self.lock:
            self.revision += 1
            meta = obj.setdefault("metadata", {})
            meta["resourceVersion"] = str(self.revision)
            meta.setdefault("uid", f"uid-{self.revision}")
            meta.setdefault("creationTimestamp", "2024-01-01T00:00:00Z")
            self.objects[(group, resource, namespace, name)] = obj
            self.lock.notify_all()
            return obj

    def get(self, group, resource, namespace, name):
        with self.lock:
            obj = self.objects.get((group, resource, namespace, name))
            return copy.deepcopy(obj) if obj is not None else None

    def delete(self, group, resource, namespace, name):
        with self.lock:
            obj = self.objects.pop((group, resource, namespace, name), None)
            if obj is not None:
                self.revision += 1
                self.lock.notify_all()
            return obj

    def list(self, group, resource, namespace):
        with self.lock:
            return [
                copy.deepcopy(o)
                for (g, r, ns, _), o in sorted(self.objects.items())
                if g == group and r == resource and (namespace is None or ns == namespace)
            ]


def merge(live, applied):
    """Server-side apply with one manager: the applied object's fields replace the live ones;
    mappings merge key by key, everything else (lists included) is replaced."""
    if isinstance(live, dict) and isinstance(applied, dict):
        out = dict(live)
        for key, value in applied.items():
            out[key] = merge(live.get(key), value) if key in live else copy.deepcopy(value)
        return out
    return copy.deepcopy(applied)


def json_merge_patch(live, patch):
    """RFC 7386."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = dict(live) if isinstance(live, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = json_merge_patch(out.get(key), value)
    return out


def with_defaults(kind, obj, nodes, old):
    """What the API server adds: DaemonSet defaults, generation and a rolled-out status."""
    meta = obj.setdefault("metadata", {})
    if kind == "DaemonSet":
        spec = obj.setdefault("spec", {})
        spec.setdefault(
            "updateStrategy",
            {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}},
        )
        spec.setdefault("revisionHistoryLimit", 10)
        generation = (old or {}).get("metadata", {}).get("generation", 0)
        if old is None or old.get("spec") != spec:
            generation += 1
        meta["generation"] = generation
        n = len(nodes)
        # --never-ready: one node wants the pod and it never starts (a rollout that hangs).
        ready = 0 if NEVER_READY else n
        obj["status"] = {
            "currentNumberScheduled": ready,
            "desiredNumberScheduled": max(n, 1) if NEVER_READY else n,
            "numberAvailable": ready,
            "numberMisscheduled": 0,
            "numberReady": ready,
            "observedGeneration": generation,
            "updatedNumberScheduled": ready,
        }
    elif kind == "Namespace":
        obj.setdefault("spec", {"finalizers": ["kubernetes"]})
        obj["status"] = {"phase": "Active"}
        meta.setdefault("labels", {})["kubernetes.io/metadata.name"] = meta.get("name", "")
    return obj


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "labctl-kube-api-double"

    def log_message(self, fmt, *args):  # quiet; the record file says what happened
        pass

    # -- plumbing -----------------------------------------------------------------------------

    def record(self, extra=None):
        if not self.server.record_file:
            return
        entry = {
            "method": self.command,
            "path": self.parsed.path,
            "query": urllib.parse.parse_qs(self.parsed.query),
            "content_type": self.headers.get("Content-Type"),
        }
        if extra:
            entry.update(extra)
        with self.server.record_lock, open(self.server.record_file, "a") as f:
            f.write(json.dumps(entry, sort_keys=True) + "\n")

    def send_json(self, code, body):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def status(self, code, reason, message, details=None):
        body = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": message,
            "reason": reason,
            "code": code,
        }
        if details:
            body["details"] = details
        self.send_json(code, body)

    def body(self):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        return raw.decode() if raw else ""

    def query(self, name):
        return urllib.parse.parse_qs(self.parsed.query).get(name, [None])[0]

    # -- routing ------------------------------------------------------------------------------

    def route(self):
        """(group, version, resource, namespace, name) of an object URL, or None."""
        parts = [p for p in self.parsed.path.split("/") if p]
        if parts[:1] == ["api"] and len(parts) >= 3:
            group, version, rest = "", parts[1], parts[2:]
        elif parts[:1] == ["apis"] and len(parts) >= 4:
            group, version, rest = parts[1], parts[2], parts[3:]
        else:
            return None
        namespace = None
        if len(rest) >= 3 and rest[0] == "namespaces":
            namespace, rest = rest[1], rest[2:]
        if len(rest) == 1 and rest[0] == "namespaces" and namespace is None:
            pass
        resource = rest[0] if rest else None
        name = rest[1] if len(rest) > 1 else None
        if len(rest) > 2:
            return None
        info = resource_info(group, version, resource)
        if info is None:
            return None
        return group, version, resource, namespace, name

    def discovery(self):
        path = self.parsed.path.rstrip("/")
        if path == "/version":
            return VERSION
        if path == "/api":
            return {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []}
        if path == "/apis":
            groups = []
            for group, versions in RESOURCES.items():
                if not group:
                    continue
                gvs = [{"groupVersion": group_version(group, v), "version": v} for v in versions]
                groups.append(
                    {"name": group, "versions": gvs, "preferredVersion": gvs[0]}
                )
            return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}
        if path == "/openapi/v3":
            return {
                "paths": {
                    ("apis/" + group_version(g, v) if g else "api/" + v): {
                        "serverRelativeURL": f"/openapi/v3/{'apis/' + g + '/' if g else 'api/'}{v}?hash=0"
                    }
                    for g, versions in RESOURCES.items()
                    for v in versions
                }
            }
        m = re.fullmatch(r"/openapi/v3/api/(v1)|/openapi/v3/apis/([^/]+)/([^/]+)", path)
        if m:
            group, version = ("", m.group(1)) if m.group(1) else (m.group(2), m.group(3))
            return openapi_v3(group, version)
        m = re.fullmatch(r"/api/(v1)|/apis/([^/]+)/([^/]+)", path)
        if m:
            group, version = ("", m.group(1)) if m.group(1) else (m.group(2), m.group(3))
            if version not in RESOURCES.get(group, {}):
                return None
            return {
                "kind": "APIResourceList",
                "apiVersion": "v1",
                "groupVersion": group_version(group, version),
                "resources": [
                    {
                        "name": name,
                        "singularName": kind.lower(),
                        "namespaced": namespaced,
                        "kind": kind,
                        "verbs": VERBS,
                    }
                    for name, kind, namespaced in RESOURCES[group][version]
                ]
                + [
                    {
                        "name": f"{name}/status",
                        "singularName": "",
                        "namespaced": namespaced,
                        "kind": kind,
                        "verbs": ["get", "patch", "update"],
                    }
                    for name, kind, namespaced in RESOURCES[group][version]
                    if kind == "DaemonSet"
                ],
            }
        return None

    # -- verbs --------------------------------------------------------------------------------

    def do_GET(self):
        self.parsed = urllib.parse.urlparse(self.path)
        found = self.discovery()
        if found is not None:
            self.record()
            return self.send_json(200, found)
        route = self.route()
        if route is None:
            self.record()
            return self.status(404, "NotFound", f"the server could not find {self.parsed.path}")
        group, version, resource, namespace, name = route
        store = self.server.store
        if self.query("watch") in ("true", "1"):
            self.record()
            return self.watch(group, version, resource, namespace, name)
        self.record()
        if name is None:
            items = store.list(group, resource, namespace)
            selector = self.query("fieldSelector") or ""
            m = re.fullmatch(r"metadata\.name=(.+)", selector)
            if m:
                items = [o for o in items if o["metadata"]["name"] == m.group(1)]
            kind, _ = resource_info(group, version, resource)
            return self.send_json(
                200,
                {
                    "kind": f"{kind}List",
                    "apiVersion": group_version(group, version),
                    "metadata": {"resourceVersion": str(store.revision)},
                    "items": items,
                },
            )
        obj = store.get(group, resource, namespace or "", name)
        if obj is None:
            return self.not_found(group, resource, name)
        return self.send_json(200, obj)

    def watch(self, group, version, resource, namespace, name):
        """Reports the matching objects as ADDED, then keeps the stream open until the client
        goes (kubectl's informers close it when they have what they need)."""
        selector = self.query("fieldSelector") or ""
        m = re.fullmatch(r"metadata\.name=(.+)", selector)
        wanted = name or (m.group(1) if m else None)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        try:
            for obj in self.server.store.list(group, resource, namespace):
                if wanted and obj["metadata"]["name"] != wanted:
                    continue
                self.chunk(json.dumps({"type": "ADDED", "object": obj}) + "\n")
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                time.sleep(0.5)
            self.chunk("")
        except (BrokenPipeError, ConnectionResetError):
            pass
        self.close_connection = True

    def chunk(self, text):
        data = text.encode()
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def not_found(self, group, resource, name):
        return self.status(
            404,
            "NotFound",
            f'{resource}{"." + group if group else ""} "{name}" not found',
            {"name": name, "group": group, "kind": resource},
        )

    def do_POST(self):
        self.parsed = urllib.parse.urlparse(self.path)
        if self.parsed.path == "/_double/flannel":
            return self.replay_flannel()
        route = self.route()
        text = self.body()
        self.record({"body": parse_body(text)})
        if route is None or route[4] is not None:
            return self.status(404, "NotFound", f"the server could not find {self.parsed.path}")
        group, version, resource, namespace, _ = route
        obj = json.loads(text)
        name = obj.get("metadata", {}).get("name")
        store = self.server.store
        if store.get(group, resource, namespace or "", name) is not None:
            return self.status(409, "AlreadyExists", f'{resource} "{name}" already exists')
        return self.write(group, version, resource, namespace, name, obj, None, 201)

    def do_PUT(self):
        self.parsed = urllib.parse.urlparse(self.path)
        route = self.route()
        text = self.body()
        self.record({"body": parse_body(text)})
        if route is None or route[4] is None:
            return self.status(404, "NotFound", f"the server could not find {self.parsed.path}")
        group, version, resource, namespace, name = route
        old = self.server.store.get(group, resource, namespace or "", name)
        if old is None:
            return self.not_found(group, resource, name)
        return self.write(group, version, resource, namespace, name, json.loads(text), old, 200)

    def do_PATCH(self):
        self.parsed = urllib.parse.urlparse(self.path)
        route = self.route()
        text = self.body()
        kind_of_patch = (self.headers.get("Content-Type") or "").split(";")[0]
        self.record({"body": parse_body(text)})
        if route is None or route[4] is None:
            return self.status(404, "NotFound", f"the server could not find {self.parsed.path}")
        group, version, resource, namespace, name = route
        old = self.server.store.get(group, resource, namespace or "", name)
        if kind_of_patch == "application/apply-patch+yaml":
            # kubectl sends the applied object as JSON, which is YAML too.
            applied = json.loads(text)
            new = merge(old or {}, applied)
            return self.write(group, version, resource, namespace, name, new, old, 200 if old else 201)
        if old is None:
            return self.not_found(group, resource, name)
        if kind_of_patch in ("application/merge-patch+json", "application/strategic-merge-patch+json"):
            # Good enough for the patches labctl's tests send (no list directives).
            new = json_merge_patch(old, json.loads(text))
            return self.write(group, version, resource, namespace, name, new, old, 200)
        return self.status(415, "UnsupportedMediaType", f"unsupported patch type {kind_of_patch}")

    def replay_flannel(self):
        """Test control, not Kubernetes: plays flanneld again on every node with the
        arguments given (`{"args": [...]}`), as if the DaemonSet had them. `[]` binds to the
        default route's NIC: the NAT trap."""
        args = json.loads(self.body() or "{}").get("args", [])
        if self.server.flannel is None:
            return self.status(400, "BadRequest", "the double was started without --nodes")
        self.server.flannel.play(args, "kube-flannel", self.server.store)
        return self.send_json(200, {"args": args})

    def write(self, group, version, resource, namespace, name, obj, old, code):
        kind, namespaced = resource_info(group, version, resource)
        store = self.server.store
        if namespaced and namespace and store.get("", "namespaces", "", namespace) is None:
            if namespace not in ("default", "kube-system"):
                return self.status(404, "NotFound", f'namespaces "{namespace}" not found')
        obj["apiVersion"] = group_version(group, version)
        obj["kind"] = kind
        meta = obj.setdefault("metadata", {})
        meta["name"] = name
        if namespaced:
            meta["namespace"] = namespace or "default"
        if old is not None:
            for key in ("uid", "creationTimestamp"):
                meta[key] = old["metadata"].get(key)
        obj = with_defaults(kind, obj, store.nodes, old)
        if self.query("dryRun") == "All":
            obj["metadata"].setdefault("resourceVersion", str(store.revision))
            if old is not None:
                obj["metadata"]["resourceVersion"] = old["metadata"]["resourceVersion"]
            return self.send_json(code, obj)
        if old is not None and {k: v for k, v in obj.items() if k != "metadata"} == {
            k: v for k, v in old.items() if k != "metadata"
        } and obj["metadata"].get("labels") == old["metadata"].get("labels") and obj[
            "metadata"
        ].get("annotations") == old["metadata"].get("annotations"):
            # Nothing changed: no new resource version, as a real API server does.
            return self.send_json(code, old)
        saved = store.put(group, resource, namespace or "", name, obj)
        if kind == "DaemonSet" and self.server.flannel is not None:
            self.server.flannel.daemonset_written(saved, store)
        return self.send_json(code, saved)

    def do_DELETE(self):
        self.parsed = urllib.parse.urlparse(self.path)
        route = self.route()
        self.record({"body": parse_body(self.body())})
        if route is None or route[4] is None:
            return self.status(404, "NotFound", f"the server could not find {self.parsed.path}")
        group, version, resource, namespace, name = route
        store = self.server.store
        if self.query("dryRun") == "All":
            obj = store.get(group, resource, namespace or "", name)
        else:
            # A namespace's objects stay until deleted one by one (a real API server removes
            # them later, asynchronously): kubectl deletes each object of the file itself.
            obj = store.delete(group, resource, namespace or "", name)
        if obj is None:
            return self.not_found(group, resource, name)
        return self.send_json(200, obj)


def parse_body(text):
    """A request body for the record: its JSON, else its text."""
    try:
        return json.loads(text) if text else None
    except ValueError:
        return text


class Flannel:
    """Plays flanneld on the sandbox's nodes (see the module docs)."""

    def __init__(self, nodes, log):
        self.nodes = nodes
        self.log = log

    def run(self, node, command, stdin=None):
        """Runs `command` (a list) inside the node: its network and mount namespaces."""
        full = ["nsenter", f"--target={node['pid']}", "--net", "--mount", "--"] + command
        done = subprocess.run(full, input=stdin, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            self.log(f"{node['name']}: {' '.join(command)}: {done.stderr.strip()}")
        return done

    def daemonset_written(self, daemonset, store):
        containers = daemonset.get("spec", {}).get("template", {}).get("spec", {}).get("containers", [])
        args = [a for c in containers if "flanneld" in " ".join(c.get("command", [])) for a in c.get("args", [])]
        if not any(c for c in containers if "flanneld" in " ".join(c.get("command", []))):
            return
        self.play(args, daemonset["metadata"].get("namespace", ""), store)

    def play(self, args, namespace, store):
        """flanneld with `args` on every node, with the ConfigMap of `namespace`."""
        config = store.get("", "configmaps", namespace, "kube-flannel-cfg") or {}
        net_conf = json.loads(config.get("data", {}).get("net-conf.json", "{}") or "{}")
        cni_conf = config.get("data", {}).get("cni-conf.json", "")
        network = net_conf.get("Network", "")
        chosen = {}
        for node in self.nodes:
            chosen[node["name"]] = self.pick_interface(node, args)
        for node in self.nodes:
            self.bring_up(node, chosen, network, cni_conf)

    def links(self, node):
        out = self.run(node, ["ip", "-j", "addr", "show"]).stdout
        return json.loads(out or "[]")

    def pick_interface(self, node, args):
        """(interface, address) as flanneld picks them: --iface, --iface-regex,
        --iface-can-reach, else the default route's interface."""
        links = self.links(node)

        def first_v4(link):
            for a in link.get("addr_info", []):
                if a.get("family") == "inet":
                    return a["local"]
            return None

        for arg in args:
            if arg.startswith("--iface="):
                value = arg.split("=", 1)[1]
                for link in links:
                    if link["ifname"] == value:
                        return link["ifname"], first_v4(link)
                    for a in link.get("addr_info", []):
                        if a.get("local") == value:
                            return link["ifname"], value
        for arg in args:
            if arg.startswith("--iface-regex="):
                pattern = re.compile(arg.split("=", 1)[1])
                # flanneld tries every address first, then the interface names.
                for link in links:
                    for a in link.get("addr_info", []):
                        if a.get("family") == "inet" and pattern.search(a["local"]):
                            return link["ifname"], a["local"]
                for link in links:
                    if pattern.search(link["ifname"]):
                        return link["ifname"], first_v4(link)
        for arg in args:
            if arg.startswith("--iface-can-reach="):
                target = arg.split("=", 1)[1]
                got = json.loads(self.run(node, ["ip", "-j", "route", "get", target]).stdout or "[]")
                if got:
                    dev = got[0].get("dev")
                    for link in links:
                        if link["ifname"] == dev:
                            return dev, first_v4(link)
        routes = json.loads(self.run(node, ["ip", "-j", "route", "show", "default"]).stdout or "[]")
        dev = routes[0].get("dev") if routes else None
        for link in links:
            if link["ifname"] == dev:
                return dev, first_v4(link)
        return None, None

    def bring_up(self, node, chosen, network, cni_conf):
        iface, local = chosen[node["name"]]
        if not local:
            self.log(f"{node['name']}: no interface to bind to")
            return
        subnet = node["pod_cidr"]
        base = subnet.split("/")[0]
        gateway = base.rsplit(".", 1)[0] + "." + str(int(base.rsplit(".", 1)[1]) + 1)
        mac = node["mac"]
        self.run(node, ["sh", "-c", "ip link del flannel.1 2>/dev/null || true"])
        script = [
            f"link add flannel.1 address {mac} type vxlan id 1 local {local} dev {iface} dstport 8472 nolearning",
            "link set flannel.1 mtu 1450",
            f"addr add {base}/32 dev flannel.1",
            "link set flannel.1 up",
        ]
        for peer in self.nodes:
            if peer["name"] == node["name"]:
                continue
            _, peer_local = chosen[peer["name"]]
            peer_base = peer["pod_cidr"].split("/")[0]
            script += [
                f"route replace {peer['pod_cidr']} via {peer_base} dev flannel.1 onlink",
                f"neigh replace {peer_base} lladdr {peer['mac']} dev flannel.1 nud permanent",
            ]
            if peer_local:
                script.append(f"fdb append {peer['mac']} dev flannel.1 dst {peer_local}")
        for line in script:
            words = line.split()
            command = ["bridge"] + words if words[0] == "fdb" else ["ip"] + words
            self.run(node, command)
        env = (
            f"FLANNEL_NETWORK={network}\nFLANNEL_SUBNET={gateway}/{subnet.split('/')[1]}\n"
            "FLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n"
        )
        self.run(node, ["sh", "-c", "mkdir -p /run/flannel && cat > /run/flannel/subnet.env"], env)
        if cni_conf:
            self.run(
                node,
                ["sh", "-c", "mkdir -p /etc/cni/net.d && cat > /etc/cni/net.d/10-flannel.conflist"],
                cni_conf,
            )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listen", default="127.0.0.1:0")
    parser.add_argument("--ready", required=True)
    parser.add_argument("--record")
    parser.add_argument("--nodes")
    parser.add_argument("--never-ready", action="store_true")
    args = parser.parse_args()
    global NEVER_READY
    NEVER_READY = args.never_ready
    host, port = args.listen.rsplit(":", 1)
    nodes = []
    if args.nodes:
        with open(args.nodes) as f:
            nodes = json.load(f)
    server = ThreadingHTTPServer((host, int(port)), Handler)
    server.daemon_threads = True
    server.store = Store(nodes)
    server.record_file = args.record
    server.record_lock = threading.Lock()

    def log(message):
        print(message, file=sys.stderr, flush=True)

    server.flannel = Flannel(nodes, log) if any("pid" in n for n in nodes) else None
    address, port = server.server_address[:2]
    with open(args.ready + ".tmp", "w") as f:
        f.write(f"http://{address}:{port}\n")
    import os

    os.rename(args.ready + ".tmp", args.ready)
    server.serve_forever()


if __name__ == "__main__":
    main()
