//! The flannel manifest as `labctl render` writes it, validated with kubernetes-validate (PyPI)
//! against the schemas of the Kubernetes versions it is rendered for, and read back for what a
//! user cares about: the interface flanneld binds to, the cluster CIDR, the backend, the images.
//!
//! The validators come from `.ci/setup-python`: kubernetes-validate 1.37.0 (schemas 1.25–1.37)
//! for the current form and 1.18.0 (schemas 1.10–1.18) for the seed's old form. Other paths can
//! be given in `LABCTL_KUBERNETES_VALIDATE` and `LABCTL_KUBERNETES_VALIDATE_LEGACY`. A missing
//! validator fails the test: these tests are never skipped.
//!
//! kubernetes-validate reports an object it has no schema for (an API version that Kubernetes
//! removed) as a *warning* and still exits 0, so a validation counts as clean only when every
//! line it prints says that exactly the expected objects passed.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

const CHAPTER: &str = "11-pod-network-routes";

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

// ---------------------------------------------------------------------------------------------
// kubernetes-validate

/// One of the two kubernetes-validate releases the tests use.
#[derive(Debug, Clone, Copy)]
enum Validator {
    /// 1.37.0: Kubernetes 1.25–1.37.
    Current,
    /// 1.18.0: Kubernetes 1.10–1.18, the last to know `extensions/v1beta1` DaemonSets.
    Legacy,
}

/// What one run of kubernetes-validate did.
struct Validation {
    command: String,
    status: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Validation {
    fn report(&self) -> String {
        format!(
            "$ {}\nexit status: {:?}\n--- stdout\n{}--- stderr\n{}---",
            self.command, self.status, self.stdout, self.stderr
        )
    }
}

impl Validator {
    fn path(self) -> PathBuf {
        let (var, venv, release) = match self {
            Validator::Current => ("LABCTL_KUBERNETES_VALIDATE", "kv-current", "1.37.0"),
            Validator::Legacy => ("LABCTL_KUBERNETES_VALIDATE_LEGACY", "kv-legacy", "1.18.0"),
        };
        let path = match std::env::var_os(var) {
            Some(p) if !p.is_empty() => PathBuf::from(p),
            _ => repo().join(".venv").join(venv).join("bin/kubernetes-validate"),
        };
        assert!(
            path.is_file(),
            "kubernetes-validate {release} is not installed at {}: run `.ci/setup-python` \
             (or set {var} to the path of a kubernetes-validate {release})",
            path.display()
        );
        path
    }

    /// `kubernetes-validate --strict --kubernetes-version VERSION FILE`.
    fn run(self, version: &str, file: &Path) -> Validation {
        let tool = self.path();
        let output = Command::new(&tool)
            .args(["--strict", "--kubernetes-version", version])
            .arg(file)
            // Python's own warnings about the tool's dependencies are not about the manifest.
            .env_remove("PYTHONWARNINGS")
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", tool.display()));
        Validation {
            command: format!(
                "{} --strict --kubernetes-version {version} {}",
                tool.display(),
                file.display()
            ),
            status: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}

/// Why `validation` is not a clean pass of exactly `resources` (`kind/name`, in file order),
/// or `None` if it is. Warnings (such as "Couldn't find schema"), errors, anything on stderr,
/// a missing or an extra object, and a non-zero exit all count against it.
fn problems(
    validation: &Validation,
    version: &str,
    file: &Path,
    resources: &[&str],
) -> Option<String> {
    let expected: Vec<String> = resources
        .iter()
        .map(|r| {
            format!("INFO {} passed for resource {r} against version {version}", file.display())
        })
        .collect();
    let lines: Vec<&str> = validation.stdout.lines().collect();
    if validation.status == Some(0) && validation.stderr.is_empty() && lines == expected {
        None
    } else {
        Some(format!(
            "not a clean validation against Kubernetes {version}\n{}\nexpected stdout:\n{}\n",
            validation.report(),
            expected.join("\n")
        ))
    }
}

/// Validates `file` against Kubernetes `version` and fails unless exactly `resources` passed.
fn assert_valid(validator: Validator, version: &str, file: &Path, resources: &[&str]) {
    let validation = validator.run(version, file);
    if let Some(problem) = problems(&validation, version, file, resources) {
        panic!("{problem}\n--- {}\n{}", file.display(), std::fs::read_to_string(file).unwrap());
    }
}

/// The `(kind, apiVersion)` pairs kubernetes-validate found no schema for.
fn missing_schemas(
    validation: &Validation,
    file: &Path,
    version: &str,
) -> BTreeSet<(String, String)> {
    let prefix = format!("WARN {} Couldn't find schema for kind ", file.display());
    let suffix = format!(" for kubernetes version {version}");
    validation
        .stdout
        .lines()
        .filter_map(|line| line.strip_prefix(&prefix)?.strip_suffix(&suffix))
        .map(|rest| {
            let (kind, api) = rest.split_once(" with api version ").expect("kind and api version");
            (kind.to_string(), api.to_string())
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// labctl render

/// A labctl YAML inventory: controller `server` and workers `worker-0..1` whose pod CIDRs are
/// the first /24s of `cluster_cidr`, with the given `flannel:` section.
fn inventory(kubernetes_version: &str, cluster_cidr: &str, flannel: &str) -> String {
    let (net, _) = cluster_cidr.split_once('/').expect("a CIDR");
    let octets: Vec<&str> = net.split('.').collect();
    let pod_cidr = |i: u8| format!("{}.{}.{i}.0/24", octets[0], octets[1]);
    format!(
        "provider: vagrant\n\
         kubernetes_version: \"{kubernetes_version}\"\n\
         nodes:\n  \
           - {{ name: server, role: controller, address: 10.240.0.10 }}\n  \
           - {{ name: worker-0, role: worker, address: 10.240.0.20, pod_cidr: {} }}\n  \
           - {{ name: worker-1, role: worker, address: 10.240.0.21, pod_cidr: {} }}\n\
         network:\n  \
           cluster_cidr: {cluster_cidr}\n  \
           service_cidr: 10.32.0.0/24\n\
         flannel: {flannel}\n",
        pod_cidr(0),
        pod_cidr(1),
    )
}

/// What `labctl render --variant flannel --out DIR` wrote.
struct Rendered {
    dir: tempfile::TempDir,
    /// `DIR/server.flannel-manifest.yaml`: the stdin of step `flannel-manifest` on `server`.
    manifest: PathBuf,
    text: String,
    /// The manifest's documents.
    docs: Vec<Value>,
}

impl Rendered {
    /// The object of `kind` called `name`.
    fn object(&self, kind: &str, name: &str) -> &Value {
        self.docs
            .iter()
            .find(|d| d["kind"] == kind && d["metadata"]["name"] == name)
            .unwrap_or_else(|| panic!("no {kind} {name} in\n{}", self.text))
    }

    /// `(apiVersion, kind, namespace, name)` of every object, in order.
    fn objects(&self) -> Vec<(String, String, String, String)> {
        let s = |v: &Value| v.as_str().unwrap_or_default().to_string();
        self.docs
            .iter()
            .map(|d| {
                (
                    s(&d["apiVersion"]),
                    s(&d["kind"]),
                    s(&d["metadata"]["namespace"]),
                    s(&d["metadata"]["name"]),
                )
            })
            .collect()
    }

    fn daemonset(&self) -> &Value {
        let ds: Vec<&Value> = self.docs.iter().filter(|d| d["kind"] == "DaemonSet").collect();
        assert_eq!(ds.len(), 1, "one DaemonSet in\n{}", self.text);
        ds[0]
    }

    /// The container (or init container) `name` of the DaemonSet's pods.
    fn container(&self, name: &str) -> &Value {
        let spec = &self.daemonset()["spec"]["template"]["spec"];
        spec["containers"]
            .as_array()
            .into_iter()
            .chain(spec["initContainers"].as_array())
            .flatten()
            .find(|c| c["name"] == name)
            .unwrap_or_else(|| panic!("no container {name} in\n{}", self.text))
    }

    /// A JSON file of the `kube-flannel-cfg` ConfigMap, parsed.
    fn config_json(&self, key: &str) -> Value {
        let text = self.object("ConfigMap", "kube-flannel-cfg")["data"][key]
            .as_str()
            .unwrap_or_else(|| panic!("no {key} in the ConfigMap"))
            .to_string();
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{key} is not JSON ({e}):\n{text}"))
    }

    /// A script `labctl render` wrote next to the manifest.
    fn script(&self, name: &str) -> String {
        let path = self.dir.path().join("rendered").join(name);
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }
}

/// Runs `labctl -i INVENTORY render 11-pod-network-routes --variant flannel --out DIR`.
fn render(inventory: &str) -> Rendered {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let inventory_file = dir.path().join("labctl.yaml");
    std::fs::write(&inventory_file, inventory).expect("write the inventory");
    let out = dir.path().join("rendered");
    let output = Command::new(env!("CARGO_BIN_EXE_labctl"))
        .arg("-i")
        .arg(&inventory_file)
        .args(["render", CHAPTER, "--variant", "flannel", "--out"])
        .arg(&out)
        .current_dir(dir.path())
        .env("NO_COLOR", "1")
        .output()
        .expect("the labctl binary runs");
    assert!(
        output.status.success(),
        "labctl render failed ({:?})\n--- stdout\n{}--- stderr\n{}--- inventory\n{inventory}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
    );
    let manifest = out.join("server.flannel-manifest.yaml");
    let text = std::fs::read_to_string(&manifest)
        .unwrap_or_else(|e| panic!("{}: {e}", manifest.display()));
    let docs: Vec<Value> = serde_saphyr::from_multiple(&text)
        .unwrap_or_else(|e| panic!("the manifest is not YAML: {e}\n{text}"));
    Rendered { dir, manifest, text, docs }
}

fn strings(value: &Value) -> Vec<&str> {
    value.as_array().map(|a| a.iter().filter_map(Value::as_str).collect()).unwrap_or_default()
}

/// The objects of the current form, as kubernetes-validate names them.
const CURRENT_RESOURCES: [&str; 6] = [
    "namespace/kube-flannel",
    "clusterrole/flannel",
    "clusterrolebinding/flannel",
    "serviceaccount/flannel",
    "configmap/kube-flannel-cfg",
    "daemonset/kube-flannel-ds",
];

/// The objects of the seed's old form.
const LEGACY_RESOURCES: [&str; 5] = [
    "clusterrole/flannel",
    "clusterrolebinding/flannel",
    "serviceaccount/flannel",
    "configmap/kube-flannel-cfg",
    "daemonset/kube-flannel-ds-amd64",
];

fn vagrant_lab() -> String {
    inventory(
        "1.34",
        "10.244.0.0/16",
        "{ iface: enp0s8, version: v0.27.4, cni_plugin_version: v1.8.0-flannel1 }",
    )
}

// ---------------------------------------------------------------------------------------------
// The current form (Kubernetes 1.16 and later)

#[test]
fn current_form_validates_against_kubernetes_1_25_1_34_and_1_37() {
    let r = render(&vagrant_lab());
    for version in ["1.25", "1.34", "1.37"] {
        assert_valid(Validator::Current, version, &r.manifest, &CURRENT_RESOURCES);
    }
}

#[test]
fn current_form_has_the_objects_of_upstream_flannel_in_namespace_kube_flannel() {
    let r = render(&vagrant_lab());
    let o = |api: &str, kind: &str, ns: &str, name: &str| {
        (api.to_string(), kind.to_string(), ns.to_string(), name.to_string())
    };
    assert_eq!(
        r.objects(),
        vec![
            o("v1", "Namespace", "", "kube-flannel"),
            o("rbac.authorization.k8s.io/v1", "ClusterRole", "", "flannel"),
            o("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", "", "flannel"),
            o("v1", "ServiceAccount", "kube-flannel", "flannel"),
            o("v1", "ConfigMap", "kube-flannel", "kube-flannel-cfg"),
            o("apps/v1", "DaemonSet", "kube-flannel", "kube-flannel-ds"),
        ]
    );
    // flanneld needs host networking and NET_ADMIN: the namespace's pods may be privileged.
    assert_eq!(
        r.object("Namespace", "kube-flannel")["metadata"]["labels"]["pod-security.kubernetes.io/enforce"],
        "privileged"
    );
    let binding = r.object("ClusterRoleBinding", "flannel");
    assert_eq!(binding["roleRef"]["name"], "flannel");
    assert_eq!(binding["subjects"][0]["kind"], "ServiceAccount");
    assert_eq!(binding["subjects"][0]["name"], "flannel");
    assert_eq!(binding["subjects"][0]["namespace"], "kube-flannel");
    let verbs = |resource: &str| -> Vec<&str> {
        r.object("ClusterRole", "flannel")["rules"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|rule| strings(&rule["resources"]).contains(&resource))
            .flat_map(|rule| strings(&rule["verbs"]))
            .collect()
    };
    assert_eq!(verbs("pods"), ["get"]);
    assert_eq!(verbs("nodes"), ["get", "list", "watch"]);
    assert_eq!(verbs("nodes/status"), ["patch"]);
}

#[test]
fn flanneld_binds_to_the_named_interface_and_hands_out_the_cluster_cidr() {
    let r = render(&vagrant_lab());
    let flanneld = r.container("kube-flannel");
    assert_eq!(strings(&flanneld["command"]), ["/opt/bin/flanneld"]);
    assert_eq!(strings(&flanneld["args"]), ["--ip-masq", "--kube-subnet-mgr", "--iface=enp0s8"]);
    assert_eq!(flanneld["image"], "ghcr.io/flannel-io/flannel:v0.27.4");

    let net = r.config_json("net-conf.json");
    assert_eq!(net["Network"], "10.244.0.0/16", "the inventory's network.cluster_cidr");
    assert_eq!(net["Backend"]["Type"], "vxlan");
    let cni = r.config_json("cni-conf.json");
    let types: Vec<&Value> =
        cni["plugins"].as_array().unwrap().iter().map(|p| &p["type"]).collect();
    assert_eq!(types, ["flannel", "portmap"]);
    assert_eq!(cni["plugins"][1]["capabilities"]["portMappings"], true);
}

#[test]
fn daemonset_installs_the_cni_plugin_and_config_on_every_linux_node() {
    let r = render(&vagrant_lab());
    let ds = r.daemonset();
    let spec = &ds["spec"]["template"]["spec"];

    // apps/v1 needs a selector, and it must select the pods of the template.
    let selector = ds["spec"]["selector"]["matchLabels"].as_object().expect("matchLabels");
    assert!(!selector.is_empty());
    for (key, value) in selector {
        assert_eq!(&ds["spec"]["template"]["metadata"]["labels"][key], value, "label {key}");
    }
    let term = &spec["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
        ["nodeSelectorTerms"][0]["matchExpressions"][0];
    assert_eq!(term["key"], "kubernetes.io/os");
    assert_eq!(term["operator"], "In");
    assert_eq!(strings(&term["values"]), ["linux"]);
    assert_eq!(spec["hostNetwork"], true);
    assert_eq!(spec["priorityClassName"], "system-node-critical");
    assert_eq!(spec["serviceAccountName"], "flannel");
    assert_eq!(spec["tolerations"][0]["operator"], "Exists");

    let init: Vec<&str> = spec["initContainers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(init, ["install-cni-plugin", "install-cni"]);
    let plugin = r.container("install-cni-plugin");
    assert_eq!(plugin["image"], "ghcr.io/flannel-io/flannel-cni-plugin:v1.8.0-flannel1");
    assert_eq!(strings(&plugin["command"]), ["cp"]);
    assert_eq!(strings(&plugin["args"]), ["-f", "/flannel", "/opt/cni/bin/flannel"]);
    assert_eq!(plugin["volumeMounts"][0]["mountPath"], "/opt/cni/bin");
    let config = r.container("install-cni");
    assert_eq!(config["image"], "ghcr.io/flannel-io/flannel:v0.27.4");
    assert_eq!(
        strings(&config["args"]),
        ["-f", "/etc/kube-flannel/cni-conf.json", "/etc/cni/net.d/10-flannel.conflist"]
    );

    let flanneld = r.container("kube-flannel");
    let env: Vec<&str> =
        flanneld["env"].as_array().unwrap().iter().map(|e| e["name"].as_str().unwrap()).collect();
    assert_eq!(env, ["POD_NAME", "POD_NAMESPACE", "EVENT_QUEUE_DEPTH"]);
    assert_eq!(flanneld["securityContext"]["privileged"], false);
    assert_eq!(
        strings(&flanneld["securityContext"]["capabilities"]["add"]),
        ["NET_ADMIN", "NET_RAW"]
    );

    let volumes: Vec<&str> =
        spec["volumes"].as_array().unwrap().iter().map(|v| v["name"].as_str().unwrap()).collect();
    assert_eq!(volumes, ["run", "cni-plugin", "cni", "flannel-cfg", "xtables-lock"]);
    for container in spec["containers"]
        .as_array()
        .unwrap()
        .iter()
        .chain(spec["initContainers"].as_array().unwrap())
    {
        for mount in container["volumeMounts"].as_array().unwrap() {
            let name = mount["name"].as_str().unwrap();
            assert!(volumes.contains(&name), "{} mounts unknown volume {name}", container["name"]);
        }
    }
    let cfg =
        spec["volumes"].as_array().unwrap().iter().find(|v| v["name"] == "flannel-cfg").unwrap();
    assert_eq!(cfg["configMap"]["name"], "kube-flannel-cfg");
}

#[test]
fn host_gw_backend_mirrored_images_and_interface_chosen_by_lab_address() {
    let r = render(&inventory(
        "1.34",
        "10.200.0.0/16",
        "{ backend: host-gw, image: \"registry.lab:5000/mirror/flannel\", version: v0.27.4, \
           cni_plugin_image: \"registry.lab:5000/mirror/flannel-cni-plugin\", \
           cni_plugin_version: v1.8.0-flannel1 }",
    ));
    assert_valid(Validator::Current, "1.34", &r.manifest, &CURRENT_RESOURCES);

    let net = r.config_json("net-conf.json");
    assert_eq!(net["Backend"]["Type"], "host-gw");
    assert_eq!(net["Network"], "10.200.0.0/16");
    assert_eq!(r.container("kube-flannel")["image"], "registry.lab:5000/mirror/flannel:v0.27.4");
    assert_eq!(r.container("install-cni")["image"], "registry.lab:5000/mirror/flannel:v0.27.4");
    assert_eq!(
        r.container("install-cni-plugin")["image"],
        "registry.lab:5000/mirror/flannel-cni-plugin:v1.8.0-flannel1"
    );

    // `iface: auto` (the default): flanneld picks the NIC that holds the node's lab address,
    // never the NAT NIC with 10.0.2.15 that every Vagrant VM has.
    let args = strings(&r.container("kube-flannel")["args"]);
    assert_eq!(args[..2], ["--ip-masq", "--kube-subnet-mgr"]);
    assert_eq!(args.len(), 3, "{args:?}");
    let regex = args[2].strip_prefix("--iface-regex=").unwrap_or_else(|| panic!("{args:?}"));
    for address in [r"10\.240\.0\.10", r"10\.240\.0\.20", r"10\.240\.0\.21"] {
        assert!(regex.contains(address), "{regex} does not match {address}");
    }
    assert!(regex.starts_with('^') && regex.ends_with('$'), "{regex} is anchored");
    assert!(!regex.contains("10\\.0\\.2\\.15"), "{regex}");
}

#[test]
fn inserted_values_cannot_break_the_yaml() {
    // A Linux interface name may hold characters that mean something in YAML and in JSON.
    let iface = r#"e#'"&*!{}[]%@"#;
    let r = render(&inventory(
        "1.34",
        "10.244.0.0/16",
        &format!("{{ iface: '{}' }}", iface.replace('\'', "''")),
    ));
    assert_valid(Validator::Current, "1.34", &r.manifest, &CURRENT_RESOURCES);
    assert_eq!(
        strings(&r.container("kube-flannel")["args"]),
        ["--ip-masq", "--kube-subnet-mgr", &format!("--iface={iface}")]
    );
}

#[test]
fn rendering_has_no_blank_line_noise() {
    for lab in [vagrant_lab(), inventory("1.15", "10.200.0.0/16", "{ iface: enp0s8 }")] {
        let r = render(&lab);
        assert!(r.text.ends_with('\n') && !r.text.ends_with("\n\n"), "{:?}", r.text);
        for (i, line) in r.text.lines().enumerate() {
            assert!(!line.trim().is_empty(), "blank line {} in\n{}", i + 1, r.text);
            assert_eq!(line, line.trim_end(), "trailing space on line {} in\n{}", i + 1, r.text);
        }
        assert!(!r.text.contains("{{") && !r.text.contains("{%"), "{}", r.text);
    }
}

#[test]
fn the_scripts_apply_the_manifest_and_wait_for_the_daemonset_it_defines() {
    // Server-side apply from Kubernetes 1.16 on (issue 5: `diff` of the same then shows
    // nothing); client-side apply for the seed's older clusters.
    for (version, namespace, daemonset, apply_args) in [
        ("1.34", "kube-flannel", "kube-flannel-ds", " --server-side --force-conflicts"),
        ("1.15", "kube-system", "kube-flannel-ds-amd64", ""),
    ] {
        let r = render(&inventory(version, "10.200.0.0/16", "{ iface: enp0s8 }"));
        let ds = r.daemonset();
        assert_eq!(ds["metadata"]["name"], daemonset);
        assert_eq!(ds["metadata"]["namespace"], namespace);
        let apply = r.script("server.sh");
        assert!(apply.contains(&format!("kubectl apply{apply_args} -f -")), "{apply}");
        assert!(apply.contains(&format!("kubectl diff{apply_args} -f -")), "{apply}");
        assert!(apply.contains("server.flannel-manifest.yaml"), "{apply}");
        assert!(
            apply.contains(&format!("-n {namespace} rollout status daemonset/{daemonset} ")),
            "{apply}"
        );
        let reset = r.script("server.reset.sh");
        assert!(
            reset.contains(
                "kubectl delete --ignore-not-found --cascade=foreground --timeout=120s -f -"
            ),
            "{reset}"
        );
        assert!(reset.contains("server.flannel-manifest.yaml"), "{reset}");
    }
}

#[test]
fn kubernetes_1_16_gets_the_current_form_and_its_1_16_schemas_accept_it() {
    let r = render(&inventory("1.16", "10.200.0.0/16", "{ iface: enp0s8 }"));
    assert_eq!(r.daemonset()["apiVersion"], "apps/v1");
    // Kubernetes 1.16 admits pods of the critical priority classes only in kube-system.
    let spec = &r.daemonset()["spec"]["template"]["spec"];
    assert_eq!(spec.get("priorityClassName"), None, "{}", r.text);
    assert_valid(Validator::Legacy, "1.16", &r.manifest, &CURRENT_RESOURCES);
}

// ---------------------------------------------------------------------------------------------
// The seed's form (Kubernetes before 1.16)

fn seed_lab() -> String {
    inventory(
        "1.15",
        "10.200.0.0/16",
        "{ iface: enp0s8, version: v0.10.0-amd64, image: quay.io/coreos/flannel }",
    )
}

#[test]
fn kubernetes_1_15_gets_the_seed_form_which_validates_against_1_15() {
    let r = render(&seed_lab());
    assert_valid(Validator::Legacy, "1.15", &r.manifest, &LEGACY_RESOURCES);

    let o = |api: &str, kind: &str, ns: &str, name: &str| {
        (api.to_string(), kind.to_string(), ns.to_string(), name.to_string())
    };
    assert_eq!(
        r.objects(),
        vec![
            o("rbac.authorization.k8s.io/v1beta1", "ClusterRole", "", "flannel"),
            o("rbac.authorization.k8s.io/v1beta1", "ClusterRoleBinding", "", "flannel"),
            o("v1", "ServiceAccount", "kube-system", "flannel"),
            o("v1", "ConfigMap", "kube-system", "kube-flannel-cfg"),
            o("extensions/v1beta1", "DaemonSet", "kube-system", "kube-flannel-ds-amd64"),
        ]
    );
    assert_eq!(
        r.object("ClusterRoleBinding", "flannel")["subjects"][0]["namespace"],
        "kube-system"
    );
    let spec = &r.daemonset()["spec"]["template"]["spec"];
    assert_eq!(spec["nodeSelector"]["beta.kubernetes.io/arch"], "amd64");
    assert_eq!(spec["hostNetwork"], true);
    let flanneld = r.container("kube-flannel");
    assert_eq!(strings(&flanneld["command"]), ["/opt/bin/flanneld"]);
    assert_eq!(strings(&flanneld["args"]), ["--ip-masq", "--kube-subnet-mgr", "--iface=enp0s8"]);
    assert_eq!(flanneld["image"], "quay.io/coreos/flannel:v0.10.0-amd64");
    assert_eq!(r.container("install-cni")["image"], "quay.io/coreos/flannel:v0.10.0-amd64");
    let net = r.config_json("net-conf.json");
    assert_eq!(net["Network"], "10.200.0.0/16");
    assert_eq!(net["Backend"]["Type"], "vxlan");
}

#[test]
fn a_warning_about_a_missing_schema_fails_the_validation() {
    // The seed's form on a current cluster: kubernetes-validate exits 0 but knows none of the
    // old API versions. The tests' own check must not take that for a pass.
    let r = render(&seed_lab());
    let validation = Validator::Current.run("1.34", &r.manifest);
    assert_eq!(validation.status, Some(0), "{}", validation.report());
    assert!(
        !missing_schemas(&validation, &r.manifest, "1.34").is_empty(),
        "{}",
        validation.report()
    );
    assert!(problems(&validation, "1.34", &r.manifest, &LEGACY_RESOURCES).is_some());
}

// ---------------------------------------------------------------------------------------------
// The seed's own manifest

fn seed_manifest() -> PathBuf {
    repo().join("tests/fixtures/manifests/seed-kube-flannel.yaml")
}

#[test]
fn seed_manifest_uses_api_versions_that_kubernetes_1_34_no_longer_has() {
    let file = seed_manifest();
    let validation = Validator::Current.run("1.34", &file);
    // kubernetes-validate calls this a success: only the warnings tell.
    assert_eq!(validation.status, Some(0), "{}", validation.report());
    assert_eq!(validation.stderr, "", "{}", validation.report());
    let expected: BTreeSet<(String, String)> = [
        ("ClusterRole", "rbac.authorization.k8s.io/v1beta1"),
        ("ClusterRoleBinding", "rbac.authorization.k8s.io/v1beta1"),
        ("DaemonSet", "extensions/v1beta1"),
    ]
    .into_iter()
    .map(|(k, a)| (k.to_string(), a.to_string()))
    .collect();
    assert_eq!(missing_schemas(&validation, &file, "1.34"), expected, "{}", validation.report());
    // Everything else in it is still fine.
    let passed: Vec<&str> = validation.stdout.lines().filter(|l| l.starts_with("INFO ")).collect();
    assert_eq!(
        passed,
        [
            format!(
                "INFO {} passed for resource serviceaccount/flannel against version 1.34",
                file.display()
            ),
            format!(
                "INFO {} passed for resource configmap/kube-flannel-cfg against version 1.34",
                file.display()
            ),
        ]
    );
    assert_eq!(validation.stdout.lines().count(), 5, "{}", validation.report());
}

#[test]
fn seed_manifest_was_valid_for_kubernetes_1_15() {
    assert_valid(Validator::Legacy, "1.15", &seed_manifest(), &LEGACY_RESOURCES);
}
