"""Turns the sandboxes of a classroom into what the other methods of bench/classroom need.

Usage: classroom.py OUT_DIR STATUS_JSON...   (one `labctl sandbox status --output json` each)

Writes, in OUT_DIR:
  inventories.txt  one labctl inventory per line (one per environment);
  class.yml        a labctl class file listing them (for `labctl --class FILE verify`);
  hosts.txt        every worker of every environment, `user@address` (parallel-ssh -h);
  check.sh         the read-only checks of `labctl verify`, for every worker at once: each
                   worker picks its own part by the address it was reached at ($SSH_CONNECTION)
                   and checks, for each other worker of its environment, the route to its pod
                   CIDR and that its pod answers two pings;
  ssh_config       an ssh config with each environment's key and known_hosts;
  ansible.yml      an Ansible inventory: group `workers`, one child group per environment
                   (env00, env01, ...), each host with ansible_host, pod_cidr, pod_address and
                   env; the sandboxes' key and known_hosts.

Each sandbox has its own key and known_hosts; every method uses each environment's own.
"""

import json
import sys
from pathlib import Path

import yaml


def main() -> None:
    out = Path(sys.argv[1])
    environments = []
    for index, status_path in enumerate(sys.argv[2:]):
        status = json.loads(Path(status_path).read_text())["sandboxes"][0]
        inventory = yaml.safe_load(Path(status["inventory"]).read_text())
        workers = [n for n in status["nodes"] if n["role"] == "worker"]
        environments.append(
            {
                "name": f"env{index:02d}",
                "status": status,
                "user": inventory["ssh"]["user"],
                "port": int(inventory["ssh"].get("port", 22)),
                "workers": workers,
            }
        )

    (out / "inventories.txt").write_text(
        "".join(f"{e['status']['inventory']}\n" for e in environments)
    )
    (out / "class.yml").write_text(
        yaml.safe_dump(
            {
                "environments": [
                    {"name": e["name"], "inventory": e["status"]["inventory"]}
                    for e in environments
                ]
            },
            sort_keys=False,
        )
    )
    (out / "hosts.txt").write_text(
        "".join(f"{e['user']}@{w['address']}\n" for e in environments for w in e["workers"])
    )

    lines = [
        "# Read-only checks per worker, chosen by the address ssh reached: route, then pings.",
        "set -- $SSH_CONNECTION",
        "rc=0",
        'case "$3" in',
    ]
    for e in environments:
        for w in e["workers"]:
            checks = []
            for peer in e["workers"]:
                if peer is w:
                    continue
                cidr, via, pod = peer["pod_cidr"], peer["address"], peer["pod_address"]
                checks.append(
                    f'test -n "$(ip route show exact {cidr} via {via})" '
                    f'|| {{ echo "no route {cidr} via {via}"; rc=1; }}'
                )
                checks.append(
                    f"sudo ping -c 2 -i 0.05 -W 1 -q {pod} >/dev/null "
                    f'|| {{ echo "no answer from {pod}"; rc=1; }}'
                )
            lines.append(f"  {w['address']}) " + "; ".join(checks) + " ;;")
    lines += ['  *) echo "unknown worker $3"; rc=1 ;;', "esac", "exit $rc", ""]
    (out / "check.sh").write_text("\n".join(lines))

    ansible = {"workers": {"children": {}}}
    for e in environments:
        s = e["status"]
        ssh_args = " ".join(
            [
                "-F /dev/null",
                "-o IdentitiesOnly=yes",
                f"-o UserKnownHostsFile={s['known_hosts']}",
                "-o GlobalKnownHostsFile=/dev/null",
                "-o StrictHostKeyChecking=yes",
                "-o BatchMode=yes",
            ]
        )
        ansible["workers"]["children"][e["name"]] = {
            "hosts": {
                f"{e['name']}-{w['name']}": {
                    "ansible_host": w["address"],
                    "pod_cidr": w["pod_cidr"],
                    "pod_address": w["pod_address"],
                }
                for w in e["workers"]
            },
            "vars": {
                "env": e["name"],
                "ansible_user": e["user"],
                "ansible_port": e["port"],
                "ansible_ssh_private_key_file": s["identity_file"],
                "ansible_ssh_common_args": ssh_args,
                "ansible_python_interpreter": "/usr/bin/python3",
            },
        }
    (out / "ansible.yml").write_text(yaml.safe_dump(ansible, sort_keys=False))

    # One ssh config for the plain ssh runs (floor, parallel-ssh): each environment's key and
    # known_hosts for its own addresses, as an instructor's ~/.ssh/config would have them.
    config = []
    for e in environments:
        s = e["status"]
        config += [
            "Host " + " ".join(w["address"] for w in e["workers"]),
            f"  IdentityFile {s['identity_file']}",
            f"  UserKnownHostsFile {s['known_hosts']}",
        ]
    config += [
        "Host *",
        "  IdentitiesOnly yes",
        "  GlobalKnownHostsFile /dev/null",
        "  StrictHostKeyChecking yes",
        "  BatchMode yes",
        "  ConnectTimeout 30",
        "",
    ]
    (out / "ssh_config").write_text("\n".join(config))


if __name__ == "__main__":
    main()
