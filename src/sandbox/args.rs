//! The `labctl sandbox` subcommands and their flags (clap), checked further in [`super::spec`].

use std::net::Ipv4Addr;

use clap::{Args, Subcommand, ValueEnum};
use ipnet::Ipv4Net;

use super::spec::{Shape, parse_network};

/// `labctl sandbox ...`
#[derive(Debug, Clone, Subcommand)]
pub enum SandboxCommand {
    /// Build a lab on this machine: a network namespace per node with a real sshd (and per worker a CNI pod).
    #[command(
        after_help = "Needs root. Several sandboxes can run side by side (`--name`).\n\nExamples:\n  sudo labctl sandbox up\n  sudo labctl sandbox up --shape gce --workers 5\n  sudo labctl sandbox up --name lab2 --network 10.241.0.0/24"
    )]
    Up(UpArgs),

    /// Remove a sandbox and everything it made, even after a half-finished `up`.
    #[command(
        after_help = "Safe to run twice. Needs root.\n\nExamples:\n  sudo labctl sandbox down\n  sudo labctl sandbox down --name lab2"
    )]
    Down(DownArgs),

    /// Show the sandboxes on this machine: nodes, addresses, and whether sshd answers.
    #[command(
        after_help = "Examples:\n  labctl sandbox status\n  labctl sandbox status --name lab2 --output json"
    )]
    Status(StatusArgs),
}

/// Flags of `labctl sandbox up`.
#[derive(Debug, Clone, Args)]
pub struct UpArgs {
    /// Name of the sandbox; sandboxes with different names and networks run side by side.
    #[arg(long, default_value = "default", value_name = "NAME", add = clap_complete::engine::ArgValueCandidates::new(crate::cli::complete::sandboxes))]
    pub name: String,

    /// Which course VMs to imitate.
    #[arg(long, value_enum, default_value_t = Shape::Vagrant)]
    pub shape: Shape,

    /// Number of workers [default: 3, or as many as --addresses lists].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=250))]
    pub workers: Option<u16>,

    /// Number of controller nodes (sshd, no pod) [default: 1, or as many as --controller-addresses lists].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u8).range(0..=10))]
    pub controllers: Option<u8>,

    /// The controllers' addresses, comma-separated [default: the network's .10 onwards].
    #[arg(long, value_name = "LIST", value_delimiter = ',')]
    pub controller_addresses: Option<Vec<Ipv4Addr>>,

    /// Name of the nodes' NIC on the lab network [default: enp0s8 (vagrant), ens4 (gce)].
    #[arg(long, value_name = "NAME")]
    pub nic: Option<String>,

    /// The lab network the nodes are on [default: 10.240.0.0/24, KTHW's; when this machine
    /// already uses it (another sandbox), the first free of 10.241.0.0/24 to 10.254.0.0/24].
    #[arg(long, value_name = "CIDR", value_parser = parse_network)]
    pub network: Option<Ipv4Net>,

    /// Address of worker-0; the others follow it [default: the network's .20].
    #[arg(long, value_name = "IP", conflicts_with = "addresses")]
    pub first_address: Option<Ipv4Addr>,

    /// The workers' addresses, comma-separated, one per worker.
    #[arg(long, value_name = "LIST", value_delimiter = ',')]
    pub addresses: Option<Vec<Ipv4Addr>>,

    /// The cluster CIDR; worker i's pod CIDR is its i-th /24.
    #[arg(long, value_name = "CIDR", default_value = "10.200.0.0/16", value_parser = parse_network)]
    pub cluster_cidr: Ipv4Net,

    /// The workers' pod CIDRs, comma-separated, one per worker (instead of the i-th /24).
    #[arg(long, value_name = "LIST", value_delimiter = ',', value_parser = parse_network)]
    pub pod_cidrs: Option<Vec<Ipv4Net>>,

    /// The service CIDR written to the inventory.
    #[arg(long, value_name = "CIDR", default_value = "10.32.0.0/24", value_parser = parse_network)]
    pub service_cidr: Ipv4Net,

    /// This machine's address on the lab network [default: .1 (vagrant), the last address (gce)].
    #[arg(long, value_name = "IP")]
    pub host_address: Option<Ipv4Addr>,
}

/// Flags of `labctl sandbox down`.
#[derive(Debug, Clone, Args)]
pub struct DownArgs {
    /// Name of the sandbox to remove.
    #[arg(long, default_value = "default", value_name = "NAME", add = clap_complete::engine::ArgValueCandidates::new(crate::cli::complete::sandboxes))]
    pub name: String,
}

/// Flags of `labctl sandbox status`.
#[derive(Debug, Clone, Args)]
pub struct StatusArgs {
    /// Show only this sandbox [default: all sandboxes on this machine].
    #[arg(long, value_name = "NAME", add = clap_complete::engine::ArgValueCandidates::new(crate::cli::complete::sandboxes))]
    pub name: Option<String>,

    /// Output format.
    #[arg(long, value_enum, default_value_t = StatusFormat::Text, value_name = "FORMAT")]
    pub output: StatusFormat,
}

/// How `sandbox status` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StatusFormat {
    /// A table for people.
    Text,
    /// Stable JSON for scripts and tests.
    Json,
}
