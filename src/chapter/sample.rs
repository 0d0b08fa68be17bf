//! The example lab every chapter is checked against when it is loaded: KTHW's own machines.
//! Rendering each variant for it finds undefined template variables before any real lab is used.

use crate::inventory::{
    Inventory, InventoryFormat, KubernetesVersion, NetworkSettings, Node, Provider, Role,
    SshSettings, VagrantSettings, Var,
};

impl super::Chapter {
    /// The example lab with the chapter's `example_vars`: what every variant is rendered for
    /// when the chapter loads.
    pub fn example_lab(&self) -> Inventory {
        let mut lab = sample_inventory();
        for (name, value) in &self.spec.example_vars {
            lab.vars.insert(name.clone(), Var { value: value.clone(), line: None });
        }
        lab
    }
}

/// KTHW's lab: `server` at 10.240.0.10 and workers `worker-0..2` at 10.240.0.20..22.
pub fn sample_inventory() -> Inventory {
    let mut nodes = vec![Node {
        name: "server".into(),
        role: Role::Controller,
        address: [10, 240, 0, 10].into(),
        pod_cidr: None,
        ssh: None,
        line: None,
    }];
    for i in 0..3u8 {
        nodes.push(Node {
            name: format!("worker-{i}"),
            role: Role::Worker,
            address: [10, 240, 0, 20 + i].into(),
            pod_cidr: ipnet::Ipv4Net::new([10, 200, i, 0].into(), 24).ok(),
            ssh: None,
            line: None,
        });
    }
    Inventory {
        source: "(example lab)".into(),
        format: InventoryFormat::Yaml,
        provider: Provider::Ssh,
        kubernetes_version: KubernetesVersion::DEFAULT,
        nodes,
        ssh: SshSettings::default(),
        network: NetworkSettings::default(),
        // A chapter adds its `example_vars` (`Chapter::example_lab`).
        vars: Default::default(),
        vagrant: Some(VagrantSettings { dir: ".".into() }),
        kubeconfig: None,
        lines: Default::default(),
    }
}
