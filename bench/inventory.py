"""Turns a sandbox's labctl inventory into what the other methods of bench/run need.

Usage: inventory.py LABCTL_INVENTORY KNOWN_HOSTS OUT_DIR

Writes, in OUT_DIR:
  workers.tsv      one line per worker: name, address, pod CIDR (for the plain ssh runs);
  nodes.tsv        one line per node (workers and controllers): name, address;
  ssh.env          USER=, IDENTITY=, PORT= (shell-sourceable, values shell-quoted);
  ansible.yml      an Ansible inventory: group `workers` with ansible_host and pod_cidr per
                   host, and the same user, key and known_hosts as labctl's inventory.

Runs with the benchmark's virtualenv Python (PyYAML comes with ansible-core).
"""

import shlex
import sys
from pathlib import Path

import yaml


def main() -> None:
    inventory_path, known_hosts, out_dir = sys.argv[1:4]
    inventory = yaml.safe_load(Path(inventory_path).read_text())
    out = Path(out_dir)
    ssh = inventory["ssh"]
    user = ssh["user"]
    identity = ssh["identity_file"]
    port = int(ssh.get("port", 22))
    nodes = inventory["nodes"]
    workers = [n for n in nodes if n["role"] == "worker"]
    if len(workers) < 2:
        sys.exit("inventory.py: the inventory has fewer than two workers")

    (out / "workers.tsv").write_text(
        "".join(f"{w['name']}\t{w['address']}\t{w['pod_cidr']}\n" for w in workers)
    )
    (out / "nodes.tsv").write_text("".join(f"{n['name']}\t{n['address']}\n" for n in nodes))
    (out / "ssh.env").write_text(
        f"USER={shlex.quote(user)}\nIDENTITY={shlex.quote(identity)}\nPORT={port}\n"
    )

    ssh_args = " ".join(
        [
            "-F /dev/null",
            "-o IdentitiesOnly=yes",
            f"-o UserKnownHostsFile={known_hosts}",
            "-o GlobalKnownHostsFile=/dev/null",
            "-o StrictHostKeyChecking=yes",
            "-o BatchMode=yes",
        ]
    )
    ansible = {
        "workers": {
            "hosts": {
                w["name"]: {"ansible_host": w["address"], "pod_cidr": w["pod_cidr"]}
                for w in workers
            },
            "vars": {
                "ansible_user": user,
                "ansible_port": port,
                "ansible_ssh_private_key_file": identity,
                "ansible_ssh_common_args": ssh_args,
                # The nodes are namespaces of this Debian machine: its python3 is theirs.
                # Named, as inventories usually do, so that discovery does not warn.
                "ansible_python_interpreter": "/usr/bin/python3",
            },
        }
    }
    (out / "ansible.yml").write_text(yaml.safe_dump(ansible, sort_keys=False))


if __name__ == "__main__":
    main()
