#!/usr/bin/env python3
"""A test double of the Compute Engine API, for driving the real `gcloud` CLI in labctl's tests.

Only what chapter 11's gce variant uses: instances get, routes insert/get/list/delete, global
operations (RUNNING when returned, DONE when polled), networks get, and the batch endpoint gcloud sends several deletes
through. State is in memory. It rejects what the real API rejects for these calls (a bad route
name, a duplicate name, a missing network, a bad range or next hop), with the real API's error
shape, so gcloud prints what it would print against Google.

Every network has the two routes GCE gives a new VPC network, named `default-route-HEX` as
GCE names them: `0.0.0.0/0` to the default internet gateway, and one for the subnet of its
instances (the /24 of its first instance) to the network itself. They are listed like any
other route and never programmed into the router namespace (nothing leaves a sandbox).

Given `--router-netns NS` (the sandbox's gce shape), every route inserted is also put into the
kernel of that "VPC router" namespace (`ip -n NS route replace DEST via NEXTHOP`) and removed
again on delete, so the gce variant is proven by packets, not by strings.

Why Python: gcloud talks HTTP/JSON with multipart batches; the standard library's http.server
and email parser do that in one small file with no new dependency (Python 3 is on every machine
gcloud is on). It listens on 127.0.0.1 only, prints its port on stdout, and appends one JSON
line per request to `--log` so tests can say exactly which calls were made.

    compute_double.py --project P --zone Z --network NET \
        --instance worker-0=10.240.0.20,10.200.0.0/24 [--router-netns NS] [--log FILE]

gcloud reaches it with CLOUDSDK_API_ENDPOINT_OVERRIDES_COMPUTE=http://127.0.0.1:PORT/compute/v1/
and CLOUDSDK_AUTH_DISABLE_CREDENTIALS=true.
"""

import argparse
import email.parser
import email.policy
import http.server
import ipaddress
import itertools
import json
import re
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone

API_PREFIX = "/compute/v1/"
BATCH_PATH = "/batch/compute/v1"
# The regex the real API quotes when it refuses a name.
NAME_REGEX = "(?:[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?)"
NAME_RE = re.compile(r"\A" + NAME_REGEX + r"\Z")


class ApiError(Exception):
    """An error response in the API's JSON shape."""

    def __init__(self, code, reason, message):
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message

    def body(self):
        return {
            "error": {
                "code": self.code,
                "message": self.message,
                "errors": [{"message": self.message, "domain": "global", "reason": self.reason}],
            }
        }


def not_found(path):
    return ApiError(404, "notFound", f"The resource '{path}' was not found")


def invalid(field, value, why):
    return ApiError(400, "invalid", f"Invalid value for field '{field}': '{value}'. {why}")


def now():
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


class Compute:
    """The double's state and the API calls on it."""

    def __init__(self, project, zone, networks, instances, router_netns):
        self.project = project
        self.zone = zone
        self.networks = set(networks)
        self.instances = instances  # name -> (networkIP, pod-cidr or None)
        self.router_netns = router_netns
        self.routes = {}  # name -> route resource
        self.operations = {}  # name -> operation resource
        self.ids = itertools.count(1000)
        self.lock = threading.Lock()
        self.base = ""  # set once the port is known

    def add_default_routes(self):
        """The routes a new VPC network has in GCE: the internet default and its subnet's."""
        for network in sorted(self.networks):
            ips = [ip for (ip, _, net) in self.instances.values() if net == network]
            subnet = str(ipaddress.IPv4Network(f"{ips[0]}/24", strict=False)) if ips else None
            hops = [("0.0.0.0/0", 1000, "nextHopGateway",
                     f"projects/{self.project}/global/gateways/default-internet-gateway")]
            if subnet:
                hops.append((subnet, 0, "nextHopNetwork", f"projects/{self.project}/global/networks/{network}"))
            for dest, priority, key, target in hops:
                number = next(self.ids)
                name = f"default-route-{number:016x}"
                self.routes[name] = {
                    "kind": "compute#route",
                    "id": str(number),
                    "creationTimestamp": now(),
                    "name": name,
                    "description": "Default local route to the subnetwork." if key == "nextHopNetwork" else "Default route to the Internet.",
                    "network": self.link(f"projects/{self.project}/global/networks/{network}"),
                    "destRange": dest,
                    "priority": priority,
                    key: self.link(target),
                    "selfLink": self.link(f"projects/{self.project}/global/routes/{name}"),
                }

    # -- resources ---------------------------------------------------------------------------

    def link(self, path):
        return self.base + path

    def check_project(self, project):
        if project != self.project:
            raise not_found(f"projects/{project}")

    def instance(self, project, zone, name):
        self.check_project(project)
        path = f"projects/{project}/zones/{zone}/instances/{name}"
        if zone != self.zone or name not in self.instances:
            raise not_found(path)
        ip, pod_cidr, network = self.instances[name]
        items = [{"key": "pod-cidr", "value": pod_cidr}] if pod_cidr else []
        return {
            "kind": "compute#instance",
            "id": str(abs(hash(name)) % 10**18),
            "name": name,
            "zone": self.link(f"projects/{project}/zones/{zone}"),
            "status": "RUNNING",
            "canIpForward": True,
            "networkInterfaces": [
                {
                    "kind": "compute#networkInterface",
                    "name": "nic0",
                    "network": self.link(f"projects/{project}/global/networks/{network}"),
                    "networkIP": ip,
                }
            ],
            "metadata": {"kind": "compute#metadata", "fingerprint": "ZG91YmxlCg==", "items": items},
            "selfLink": self.link(path),
        }

    def network(self, project, name):
        self.check_project(project)
        path = f"projects/{project}/global/networks/{name}"
        if name not in self.networks:
            raise not_found(path)
        return {
            "kind": "compute#network",
            "name": name,
            "autoCreateSubnetworks": False,
            "selfLink": self.link(path),
        }

    def get_route(self, project, name):
        self.check_project(project)
        if name not in self.routes:
            raise not_found(f"projects/{project}/global/routes/{name}")
        return self.routes[name]

    def list_routes(self, project, query):
        self.check_project(project)
        items = [self.routes[n] for n in sorted(self.routes)]
        for expression in query.get("filter", []):
            items = [r for r in items if matches(r, expression)]
        result = {
            "kind": "compute#routeList",
            "id": f"projects/{project}/global/routes",
            "selfLink": self.link(f"projects/{project}/global/routes"),
        }
        if items:  # The real API leaves `items` out of an empty list.
            result["items"] = items
        return result

    def insert_route(self, project, body):
        self.check_project(project)
        name = body.get("name")
        if not name:
            raise ApiError(400, "required", "Required field 'resource.name' not specified")
        if not NAME_RE.match(name):
            raise invalid("resource.name", name, f"Must be a match of regex '{NAME_REGEX}'")
        network_url = body.get("network")
        if not network_url:
            raise ApiError(400, "required", "Required field 'resource.network' not specified")
        network = network_url.rstrip("/").rsplit("/", 1)[-1]
        self.network(project, network)
        dest = body.get("destRange", "")
        try:
            dest_net = ipaddress.IPv4Network(dest)
        except ValueError:
            raise invalid("resource.destRange", dest, "Must be a valid IPv4 CIDR range.")
        hops = [k for k in ("nextHopIp", "nextHopGateway", "nextHopInstance", "nextHopVpnTunnel", "nextHopIlb") if body.get(k)]
        if len(hops) != 1:
            raise invalid("resource", "", "A route must have exactly one next hop.")
        next_hop = body.get("nextHopIp")
        if hops != ["nextHopIp"]:
            raise ApiError(400, "invalid", "This double only knows routes with nextHopIp.")
        try:
            ipaddress.IPv4Address(next_hop)
        except ValueError:
            raise invalid("resource.nextHopIp", next_hop, "Must be a valid IPv4 address.")
        path = f"projects/{project}/global/routes/{name}"
        if name in self.routes:
            raise ApiError(409, "alreadyExists", f"The resource '{path}' already exists")
        route = {
            "kind": "compute#route",
            "id": str(next(self.ids)),
            "creationTimestamp": now(),
            "name": name,
            "description": body.get("description", ""),
            "network": self.link(f"projects/{project}/global/networks/{network}"),
            "destRange": str(dest_net),
            "priority": int(body.get("priority", 1000)),
            "nextHopIp": next_hop,
            "selfLink": self.link(path),
        }
        if body.get("tags"):
            route["tags"] = body["tags"]
        self.routes[name] = route
        error = self.program_router(route["destRange"])
        if error:
            del self.routes[name]
            self.program_router(route["destRange"])
        return self.operation(project, "insert", route, error)

    def delete_route(self, project, name):
        route = self.get_route(project, name)
        del self.routes[name]
        error = self.program_router(route["destRange"])
        return self.operation(project, "delete", route, error)

    def get_operation(self, project, name):
        self.check_project(project)
        if name not in self.operations:
            raise not_found(f"projects/{project}/global/operations/{name}")
        op = self.operations[name]
        # Done by the time anyone asks: gcloud's wait for an operation is exercised, not slowed.
        op["status"] = "DONE"
        op["progress"] = 100
        op.setdefault("endTime", now())
        return op

    def operation(self, project, kind, target, error):
        number = next(self.ids)
        name = f"operation-{int(time.time() * 1000)}-double-{number}"
        op = {
            "kind": "compute#operation",
            "id": str(number),
            "name": name,
            "operationType": kind,
            "targetLink": target["selfLink"],
            "targetId": target["id"],
            # As the real API answers: still running; it is DONE when polled.
            "status": "RUNNING",
            "user": "labctl-tests@compute-double",
            "progress": 0,
            "insertTime": now(),
            "startTime": now(),
            "selfLink": self.link(f"projects/{project}/global/operations/{name}"),
        }
        if error:
            op["status"] = "DONE"
            op["endTime"] = now()
            op["error"] = {"errors": [{"code": "RESOURCE_OPERATION_FAILED", "message": error}]}
            op["httpErrorStatusCode"] = 500
            op["httpErrorMessage"] = "INTERNAL SERVER ERROR"
        self.operations[name] = op
        return op

    # -- the VPC router ----------------------------------------------------------------------

    def program_router(self, dest):
        """Makes the router's kernel route for `dest` follow the API's routes; an error or None.

        The kernel holds one route per destination: the API route with the lowest priority
        (then name) wins, as in a VPC.
        """
        if not self.router_netns:
            return None
        candidates = sorted(
            (r for r in self.routes.values() if r["destRange"] == dest and r.get("nextHopIp")),
            key=lambda r: (r["priority"], r["name"]),
        )
        if candidates:
            args = ["route", "replace", dest, "via", candidates[0]["nextHopIp"]]
        else:
            args = ["route", "del", dest]
        done = subprocess.run(
            ["ip", "-n", self.router_netns, *args], capture_output=True, text=True
        )
        if done.returncode == 0:
            return None
        # Deleting a kernel route that is not there is not an API error.
        if not candidates and "No such process" in done.stderr:
            return None
        return f"the VPC router refused `ip {' '.join(args)}`: {done.stderr.strip()}"


def matches(route, expression):
    """The server-side filters gcloud sends for `routes list --filter`, e.g.
    `(network eq ".*\\bkthw\\b.*")` or `name eq "x"`; anything else matches (gcloud filters
    again on its side)."""
    for field, pattern in re.findall(r'\(?\s*(\w+)\s+eq\s+"((?:[^"\\]|\\.)*)"\s*\)?', expression):
        value = str(route.get(field, ""))
        try:
            if not re.fullmatch(pattern, value):
                return False
        except re.error:
            return True
    return True


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    compute = None  # set in main
    log_file = None

    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        pass  # Requests go to --log as JSON, not to stderr.

    def do_GET(self):
        self.handle_api()

    def do_POST(self):
        self.handle_api()

    def do_DELETE(self):
        self.handle_api()

    def handle_api(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if self.path.split("?")[0] == BATCH_PATH:
            status, content_type, payload = self.batch(body)
        else:
            status, result = dispatch(self.compute, self.command, self.path, body)
            content_type = "application/json; charset=UTF-8"
            payload = json.dumps(result).encode()
            record(self.log_file, self.command, self.path, status, body)
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def batch(self, body):
        """A multipart/mixed batch: each part is an HTTP request; the answer is one part each."""
        content_type = self.headers.get("Content-Type", "")
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
            f"Content-Type: {content_type}\r\n\r\n".encode() + body
        )
        boundary = "batch_double_boundary"
        out = []
        for part in message.iter_parts():
            request = part.get_payload(decode=True) or b""
            head, _, part_body = request.replace(b"\r\n", b"\n").partition(b"\n\n")
            method, path, _version = head.split(b"\n")[0].decode().split(" ", 2)
            status, result = dispatch(self.compute, method, path, part_body.strip())
            record(self.log_file, method, path, status, part_body.strip(), batch=True)
            text = json.dumps(result)
            content_id = part.get("Content-ID", "").strip("<>")
            out.append(
                f"--{boundary}\r\nContent-Type: application/http\r\n"
                f"Content-ID: <response-{content_id}>\r\n\r\n"
                f"HTTP/1.1 {status} {http.HTTPStatus(status).phrase}\r\n"
                f"Content-Type: application/json; charset=UTF-8\r\n"
                f"Content-Length: {len(text)}\r\n\r\n{text}\r\n"
            )
        out.append(f"--{boundary}--\r\n")
        return 200, f"multipart/mixed; boundary={boundary}", "".join(out).encode()


ROUTES = [
    ("GET", r"projects/([^/]+)/zones/([^/]+)/instances/([^/]+)", lambda c, m, q, b: c.instance(*m)),
    ("GET", r"projects/([^/]+)/global/networks/([^/]+)", lambda c, m, q, b: c.network(*m)),
    ("GET", r"projects/([^/]+)/global/routes", lambda c, m, q, b: c.list_routes(m[0], q)),
    ("POST", r"projects/([^/]+)/global/routes", lambda c, m, q, b: c.insert_route(m[0], b)),
    ("GET", r"projects/([^/]+)/global/routes/([^/]+)", lambda c, m, q, b: c.get_route(*m)),
    ("DELETE", r"projects/([^/]+)/global/routes/([^/]+)", lambda c, m, q, b: c.delete_route(*m)),
    ("GET", r"projects/([^/]+)/global/operations/([^/]+)", lambda c, m, q, b: c.get_operation(*m)),
    ("POST", r"projects/([^/]+)/global/operations/([^/]+)/wait", lambda c, m, q, b: c.get_operation(*m)),
]


def dispatch(compute, method, url, body):
    """(HTTP status, JSON body) for one API request."""
    from urllib.parse import parse_qs, urlsplit

    parts = urlsplit(url)
    query = parse_qs(parts.query)
    path = parts.path
    if not path.startswith(API_PREFIX):
        return 404, ApiError(404, "notFound", f"no such API path: {path}").body()
    path = path[len(API_PREFIX):]
    try:
        data = json.loads(body) if body else {}
    except ValueError:
        return 400, ApiError(400, "parseError", "This API does not support parsing form-encoded input.").body()
    for verb, pattern, call in ROUTES:
        found = re.fullmatch(pattern, path)
        if verb == method and found:
            try:
                with compute.lock:
                    return 200, call(compute, found.groups(), query, data)
            except ApiError as e:
                return e.code, e.body()
    return 404, ApiError(404, "notFound", f"the double does not serve {method} {path}").body()


def record(log_file, method, path, status, body, batch=False):
    if not log_file:
        return
    path, _, query = path.partition("?")
    entry = {"method": method, "path": path, "status": status}
    if query:
        entry["query"] = query
    if batch:
        entry["batch"] = True
    if body:
        try:
            entry["body"] = json.loads(body)
        except ValueError:
            pass
    with open(log_file, "a", encoding="utf-8") as f:
        f.write(json.dumps(entry) + "\n")


def parse_instance(text):
    """`NAME=IP[,POD_CIDR][,NETWORK]` → (name, (ip, pod_cidr or None, network or None))."""
    name, _, rest = text.partition("=")
    fields = rest.split(",")
    ip = fields[0]
    pod_cidr = fields[1] if len(fields) > 1 and fields[1] else None
    network = fields[2] if len(fields) > 2 and fields[2] else None
    return name, (ip, pod_cidr, network)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--project", required=True)
    p.add_argument("--zone", required=True)
    p.add_argument("--network", required=True, action="append", help="a network that exists")
    p.add_argument("--instance", action="append", default=[], help="NAME=IP[,POD_CIDR][,NETWORK]")
    p.add_argument("--router-netns", help="program this namespace's routes like a VPC router")
    p.add_argument("--log", help="append one JSON line per request to this file")
    p.add_argument("--port", type=int, default=0)
    args = p.parse_args()

    instances = {}
    for text in args.instance:
        name, (ip, pod_cidr, network) = parse_instance(text)
        instances[name] = (ip, pod_cidr, network or args.network[0])
    compute = Compute(args.project, args.zone, args.network, instances, args.router_netns)
    Handler.compute = compute
    Handler.log_file = args.log
    server = http.server.ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    port = server.server_address[1]
    compute.base = f"http://127.0.0.1:{port}{API_PREFIX}"
    compute.add_default_routes()
    print(port, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    sys.exit(main())
