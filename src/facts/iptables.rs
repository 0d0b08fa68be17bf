//! Fact `iptables`: the filter table's chains and rules, and whether its FORWARD chain lets a
//! pod's ping through.
//!
//! Routes can be right and `ip_forward` on, and pods still cannot ping each other: installing
//! Docker sets `iptables -P FORWARD DROP`, and a hand-written `-A FORWARD ... -j DROP` drops as
//! surely. [`Firewall::forward`] walks FORWARD the way the kernel does for one ICMP packet, so
//! `verify` can name the rule (or policy) that drops it and the command that removes it.
//!
//! Only what decides a ping is understood: addresses, interfaces, the protocol, fragments,
//! conntrack state, ICMP type and comments. A rule with any other match (`-m mark`, `-m set`,
//! ...) is taken never to match: labctl cannot tell whether it would, and a verdict that names
//! a rule must be one the rule really gives.

use std::fmt;
use std::net::Ipv4Addr;

use ipnet::Ipv4Net;
use serde::Serialize;

use super::section::quote;
use super::{FactError, Section};

/// Section name.
pub const NAME: &str = "iptables";
/// The command: every chain of the filter table as `-P`/`-N`/`-A` lines (needs root).
pub const COMMAND: &str = "iptables -S";

/// How deep jumps from chain to chain are followed. The kernel refuses loops, but a listing
/// could be built by hand; deeper calls give no verdict and the caller goes on.
const MAX_DEPTH: usize = 16;

/// Match modules whose options this parser understands.
const KNOWN_MODULES: [&str; 4] = ["comment", "conntrack", "state", "icmp"];

/// The filter table as `iptables -S` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Firewall {
    /// Built-in chains first, then user chains, in the order listed.
    pub chains: Vec<Chain>,
}

/// One chain and its rules, in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Chain {
    pub name: String,
    /// `ACCEPT` or `DROP` for a built-in chain (`-P`); `None` for a user chain (`-N`).
    pub policy: Option<String>,
    pub rules: Vec<Rule>,
}

/// One `-A` line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rule {
    /// The line as listed, e.g. `-A FORWARD -d 10.200.0.0/16 -j DROP`: what people recognise
    /// and what the fix command repeats.
    pub text: String,
    /// What a packet must match, all of it.
    pub matches: Vec<Match>,
    /// `None` for a rule without `-j`/`-g` (it only counts packets).
    pub target: Option<Target>,
    /// Options this parser does not understand (e.g. `-m mark`); the rule is then taken never
    /// to match.
    pub not_understood: Vec<String>,
}

/// One understood match of a rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Match {
    /// Written with `!` before the option.
    pub negated: bool,
    pub condition: Condition,
}

/// What a [`Match`] tests.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Condition {
    /// `-s`
    Source(Ipv4Net),
    /// `-d`
    Destination(Ipv4Net),
    /// `-i`; a trailing `+` matches every name that starts with the rest.
    InInterface(String),
    /// `-o`; a trailing `+` matches every name that starts with the rest.
    OutInterface(String),
    /// `-p`, lowercased (`icmp`, `tcp`, `all`, or a number).
    Protocol(String),
    /// `-f`: second and later fragments (a ping is never one).
    Fragment,
    /// `-m conntrack --ctstate` or `-m state --state`, uppercased (`NEW`, `ESTABLISHED`, ...).
    State(Vec<String>),
    /// `-m icmp --icmp-type TYPE[/CODE]`; `None` type is `any`.
    IcmpType { icmp_type: Option<u8>, code: Option<u8> },
}

/// Where a rule sends a packet it matches.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Target {
    /// `-j NAME`: a verdict (`ACCEPT`, `DROP`, ...), a user chain, or an extension (`LOG`, ...).
    Jump(String),
    /// `-g CHAIN`: like a jump, but when CHAIN returns, the calling chain returns too.
    Goto(String),
}

/// The packet to judge: an ICMP echo request or reply crossing the node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Packet {
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    /// The interface it arrives on, when known (e.g. `enp0s8`, `cni0`, `flannel.1`).
    pub in_iface: Option<String>,
    /// The interface it leaves by, when known.
    pub out_iface: Option<String>,
    pub state: ConnState,
}

/// The conntrack state of a ping's packets: the echo request opens a connection, the reply
/// belongs to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum ConnState {
    /// An echo request.
    New,
    /// An echo reply.
    Established,
}

impl ConnState {
    /// The name `--ctstate` and `--state` use.
    fn conntrack_name(self) -> &'static str {
        match self {
            ConnState::New => "NEW",
            ConnState::Established => "ESTABLISHED",
        }
    }

    /// The ICMP type of the packet (echo request 8, echo reply 0; the code of both is 0).
    fn icmp_type(self) -> u8 {
        match self {
            ConnState::New => 8,
            ConnState::Established => 0,
        }
    }
}

impl Packet {
    /// The reply to this packet: addresses and interfaces swapped, [`ConnState::Established`].
    pub fn reply(&self) -> Packet {
        Packet {
            src: self.dst,
            dst: self.src,
            in_iface: self.out_iface.clone(),
            out_iface: self.in_iface.clone(),
            state: ConnState::Established,
        }
    }
}

/// What FORWARD does with a packet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Verdict {
    Accept,
    Dropped(Drop),
}

impl Verdict {
    /// The drop, if the packet is dropped.
    pub fn dropped(&self) -> Option<&Drop> {
        match self {
            Verdict::Accept => None,
            Verdict::Dropped(drop) => Some(drop),
        }
    }
}

/// What dropped a packet: a rule, or a chain's policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Drop {
    /// The chain of the rule, or whose policy it is.
    pub chain: String,
    /// The rule's `-A` line; `None` when it is the chain's policy.
    pub rule: Option<String>,
    /// `DROP` or `REJECT` for a rule; the policy (`DROP`) for a policy.
    pub target: String,
}

impl Drop {
    /// The command that lets the packet through, to run on the node: the policy set to
    /// ACCEPT, or the rule deleted by its exact specification (`-D` instead of `-A`, every
    /// word shell-quoted where needed).
    pub fn fix(&self) -> String {
        let Some(rule) = &self.rule else {
            return format!("sudo iptables -P {} ACCEPT", quote(&self.chain));
        };
        // A rule's text split when it was parsed, so the fallbacks are for hand-made values.
        let words = shlex::split(rule)
            .unwrap_or_else(|| rule.split_whitespace().map(str::to_string).collect());
        let spec: Vec<&str> = match words.split_first() {
            Some((first, rest)) if first == "-A" => rest.iter().map(String::as_str).collect(),
            _ => std::iter::once(self.chain.as_str())
                .chain(words.iter().map(String::as_str))
                .collect(),
        };
        let mut command = String::from("sudo iptables -D");
        for word in spec {
            command.push(' ');
            // A lone `!` is safe bare (no history expansion before a blank) and reads as the
            // iptables manual writes it.
            if word == "!" {
                command.push('!');
            } else {
                command.push_str(&quote(word));
            }
        }
        command
    }

    /// For people: ``the FORWARD policy is DROP`` or ``the rule `-A FORWARD -j DROP` ``.
    pub fn describe(&self) -> String {
        match &self.rule {
            None => format!("the {} policy is {}", self.chain, self.target),
            Some(rule) => format!("the rule `{rule}`"),
        }
    }
}

impl fmt::Display for Drop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe())
    }
}

/// The end of walking a chain.
enum Outcome {
    Verdict(Verdict),
    /// The chain ran out of rules or hit `RETURN`: the caller goes on.
    Return,
}

impl Firewall {
    /// The chain of this name.
    pub fn chain(&self, name: &str) -> Option<&Chain> {
        self.chains.iter().find(|c| c.name == name)
    }

    /// What the FORWARD chain does with `packet`, walking its rules and the user chains they
    /// jump to as the kernel does. Without a FORWARD chain nothing filters: [`Verdict::Accept`].
    pub fn forward(&self, packet: &Packet) -> Verdict {
        let Some(chain) = self.chain("FORWARD") else {
            return Verdict::Accept;
        };
        match self.walk(chain, packet, 0) {
            Outcome::Verdict(verdict) => verdict,
            Outcome::Return => chain.policy_verdict(),
        }
    }

    fn walk(&self, chain: &Chain, packet: &Packet, depth: usize) -> Outcome {
        for rule in chain.rules.iter().filter(|r| r.matches(packet)) {
            let (name, goto) = match &rule.target {
                None => continue,
                Some(Target::Jump(name)) => (name.as_str(), false),
                Some(Target::Goto(name)) => (name.as_str(), true),
            };
            match name {
                "ACCEPT" => return Outcome::Verdict(Verdict::Accept),
                "DROP" | "REJECT" => {
                    return Outcome::Verdict(Verdict::Dropped(Drop {
                        chain: chain.name.clone(),
                        rule: Some(rule.text.clone()),
                        target: name.to_string(),
                    }));
                }
                "RETURN" => return Outcome::Return,
                _ => {}
            }
            // Only user chains can be jumped to; other targets (LOG, MARK, ...) give no verdict.
            let Some(called) = self.chain(name).filter(|c| c.policy.is_none()) else {
                continue;
            };
            if depth >= MAX_DEPTH {
                continue;
            }
            match self.walk(called, packet, depth + 1) {
                Outcome::Verdict(verdict) => return Outcome::Verdict(verdict),
                Outcome::Return if goto => return Outcome::Return,
                Outcome::Return => {}
            }
        }
        Outcome::Return
    }
}

impl Chain {
    /// The verdict of falling off the end of a built-in chain (ACCEPT when it has no policy,
    /// as the kernel's default).
    fn policy_verdict(&self) -> Verdict {
        match self.policy.as_deref() {
            None | Some("ACCEPT") => Verdict::Accept,
            Some(policy) => Verdict::Dropped(Drop {
                chain: self.name.clone(),
                rule: None,
                target: policy.to_string(),
            }),
        }
    }
}

impl Rule {
    /// True when every match matches and the rule has nothing this parser does not understand.
    pub fn matches(&self, packet: &Packet) -> bool {
        self.not_understood.is_empty() && self.matches.iter().all(|m| m.matches(packet))
    }
}

impl Match {
    /// True when the condition holds for `packet` (or, negated, does not).
    pub fn matches(&self, packet: &Packet) -> bool {
        let holds = match &self.condition {
            Condition::Source(net) => net.contains(&packet.src),
            Condition::Destination(net) => net.contains(&packet.dst),
            Condition::InInterface(name) => iface_matches(name, packet.in_iface.as_deref()),
            Condition::OutInterface(name) => iface_matches(name, packet.out_iface.as_deref()),
            Condition::Protocol(proto) => matches!(proto.as_str(), "icmp" | "1" | "all" | "0"),
            Condition::Fragment => false,
            Condition::State(states) => states.iter().any(|s| s == packet.state.conntrack_name()),
            Condition::IcmpType { icmp_type, code } => {
                icmp_type.is_none_or(|t| t == packet.state.icmp_type())
                    && code.is_none_or(|c| c == 0)
            }
        };
        holds != self.negated
    }
}

/// Whether interface `name` (or, with a trailing `+`, a prefix) matches the packet's; an
/// unknown interface matches nothing.
fn iface_matches(name: &str, iface: Option<&str>) -> bool {
    let Some(iface) = iface else {
        return false;
    };
    match name.strip_suffix('+') {
        Some(prefix) => iface.starts_with(prefix),
        None => iface == name,
    }
}

/// Parses the section of [`COMMAND`]; `None` when iptables could not be read (not installed,
/// not root, any failure): then whether FORWARD drops is unknown, which is not an error.
pub fn parse(section: &Section) -> Result<Option<Firewall>, FactError> {
    if section.absent || section.code != 0 {
        return Ok(None);
    }
    parse_listing(&section.stdout)
        .map(Some)
        .map_err(|problem| FactError::unexpected(&section.name, problem))
}

/// Parses `iptables -S` output; the error says which line is not understood.
fn parse_listing(text: &str) -> Result<Firewall, String> {
    let mut firewall = Firewall { chains: Vec::new() };
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        // iptables-nft may print a `# Warning: ...` about legacy tables.
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let bad = |what: &str| format!("line {}: {what}: `{line}`", n + 1);
        let words = shlex::split(line).ok_or_else(|| bad("unbalanced quotes"))?;
        let (command, chain_name) = match words.as_slice() {
            [command, chain, ..] => (command.as_str(), chain.as_str()),
            _ => return Err(bad("expected `-P`, `-N` or `-A` and a chain")),
        };
        match command {
            "-P" => {
                let policy = words.get(2).ok_or_else(|| bad("a policy line without a policy"))?;
                chain_mut(&mut firewall, chain_name).policy = Some(policy.clone());
            }
            "-N" => {
                chain_mut(&mut firewall, chain_name);
            }
            "-A" => {
                let rule = parse_rule(line, &words[2..]);
                chain_mut(&mut firewall, chain_name).rules.push(rule);
            }
            _ => return Err(bad("expected `-P`, `-N` or `-A`")),
        }
    }
    match firewall.chain("FORWARD") {
        Some(chain) if chain.policy.is_some() => Ok(firewall),
        _ => Err("no `-P FORWARD` line: not what `iptables -S` prints".into()),
    }
}

/// The chain of this name, added at the end if it is not there yet.
fn chain_mut<'a>(firewall: &'a mut Firewall, name: &str) -> &'a mut Chain {
    let at = match firewall.chains.iter().position(|c| c.name == name) {
        Some(at) => at,
        None => {
            firewall.chains.push(Chain { name: name.to_string(), policy: None, rules: Vec::new() });
            firewall.chains.len() - 1
        }
    };
    &mut firewall.chains[at]
}

/// Whether `word` starts an option (rather than being an option's value).
fn is_option(word: &str) -> bool {
    word == "!" || (word.len() > 1 && word.starts_with('-'))
}

/// Parses a rule's words after `-A CHAIN`; what it does not understand goes to
/// [`Rule::not_understood`] rather than failing.
fn parse_rule(text: &str, words: &[String]) -> Rule {
    let mut rule = Rule {
        text: text.to_string(),
        matches: Vec::new(),
        target: None,
        not_understood: Vec::new(),
    };
    let mut module: Option<&str> = None;
    let mut pending_not = false;
    let mut i = 0;
    while i < words.len() {
        let word = words[i].as_str();
        i += 1;
        if word == "!" {
            if pending_not {
                rule.not_understood.push("! !".into());
            }
            pending_not = true;
            continue;
        }
        let negated = std::mem::take(&mut pending_not);
        let mut push = |condition: Option<Condition>, shown: String| match condition {
            Some(condition) => rule.matches.push(Match { negated, condition }),
            None => rule.not_understood.push(shown),
        };
        match word {
            "-s" | "--source" | "-d" | "--destination" | "-i" | "--in-interface" | "-o"
            | "--out-interface" | "-p" | "--protocol" => {
                let Some(value) = words.get(i) else {
                    push(None, word.to_string());
                    break;
                };
                i += 1;
                let condition = match word {
                    "-s" | "--source" => address(value).map(Condition::Source),
                    "-d" | "--destination" => address(value).map(Condition::Destination),
                    "-i" | "--in-interface" => Some(Condition::InInterface(value.clone())),
                    "-o" | "--out-interface" => Some(Condition::OutInterface(value.clone())),
                    _ => Some(Condition::Protocol(value.to_lowercase())),
                };
                push(condition, format!("{word} {value}"));
            }
            "-f" | "--fragment" => push(Some(Condition::Fragment), String::new()),
            "-m" | "--match" => {
                let Some(name) = words.get(i) else {
                    push(None, word.to_string());
                    break;
                };
                i += 1;
                module = Some(name.as_str());
                if negated || !KNOWN_MODULES.contains(&name.as_str()) {
                    rule.not_understood.push(format!("{word} {name}"));
                }
            }
            "-j" | "--jump" | "-g" | "--goto" => {
                let Some(name) = words.get(i) else {
                    push(None, word.to_string());
                    break;
                };
                if negated {
                    rule.not_understood.push(format!("! {word}"));
                }
                rule.target = Some(match word {
                    "-j" | "--jump" => Target::Jump(name.clone()),
                    _ => Target::Goto(name.clone()),
                });
                // `iptables -S` lists the target last; what follows are its own options
                // (`--reject-with`, `--log-prefix`, ...), which do not change the verdict.
                break;
            }
            // Counters (`iptables -S -v`), not a match.
            "-c" | "--set-counters" => i += 2,
            // A comment is one word, whatever it looks like.
            "--comment" if module == Some("comment") => i += 1,
            _ if word.starts_with("--") => {
                let start = i;
                while i < words.len() && !is_option(&words[i]) {
                    i += 1;
                }
                let condition = match (module, word, &words[start..i]) {
                    (Some("conntrack"), "--ctstate", [list])
                    | (Some("state"), "--state", [list]) => {
                        Some(Condition::State(list.split(',').map(str::to_uppercase).collect()))
                    }
                    (Some("icmp"), "--icmp-type", [value]) => icmp_type(value),
                    // The module itself is already listed as not understood.
                    (Some(m), _, _) if !KNOWN_MODULES.contains(&m) => continue,
                    _ => None,
                };
                let shown = std::iter::once(word)
                    .chain(words[start..i].iter().map(String::as_str))
                    .collect::<Vec<_>>()
                    .join(" ");
                push(condition, shown);
            }
            _ => push(None, word.to_string()),
        }
    }
    if pending_not {
        rule.not_understood.push("! at the end".into());
    }
    rule
}

/// `10.200.0.0/16`, `10.0.0.1`, or a contiguous dotted mask `10.0.0.0/255.255.0.0`.
fn address(value: &str) -> Option<Ipv4Net> {
    let (addr, prefix) = match value.split_once('/') {
        None => (value, 32),
        Some((addr, mask)) => {
            let prefix = match mask.parse::<u8>() {
                Ok(prefix) => prefix,
                Err(_) => ipnet::ipv4_mask_to_prefix(mask.parse().ok()?).ok()?,
            };
            (addr, prefix)
        }
    };
    Ipv4Net::new(addr.parse().ok()?, prefix).ok()
}

/// `--icmp-type`: `any`, `TYPE` or `TYPE/CODE` (as `iptables -S` lists it), or the names of
/// the echo types.
fn icmp_type(value: &str) -> Option<Condition> {
    let (icmp_type, code) = match value {
        "any" => (None, None),
        "echo-request" | "ping" => (Some(8), Some(0)),
        "echo-reply" | "pong" => (Some(0), Some(0)),
        _ => match value.split_once('/') {
            Some((t, c)) => (Some(t.parse().ok()?), Some(c.parse().ok()?)),
            None => (Some(value.parse().ok()?), None),
        },
    };
    Some(Condition::IcmpType { icmp_type, code })
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    fn firewall(listing: &str) -> Firewall {
        parse(&Section::ran(NAME, listing)).unwrap().unwrap()
    }

    /// A ping from a pod on this node to a pod on another: cni0 in, the lab NIC out.
    fn request(src: &str, dst: &str) -> Packet {
        Packet {
            src: src.parse().unwrap(),
            dst: dst.parse().unwrap(),
            in_iface: Some("cni0".into()),
            out_iface: Some("enp0s8".into()),
            state: ConnState::New,
        }
    }

    fn dropped(verdict: Verdict) -> Drop {
        match verdict {
            Verdict::Dropped(drop) => drop,
            Verdict::Accept => panic!("expected a drop, got Accept"),
        }
    }

    const DEBIAN: &str = "-P INPUT ACCEPT\n-P FORWARD ACCEPT\n-P OUTPUT ACCEPT\n";

    /// `iptables -S` on a Debian 12 VM right after `apt-get install docker.io`.
    const DOCKER: &str = "\
-P INPUT ACCEPT
-P FORWARD DROP
-P OUTPUT ACCEPT
-N DOCKER
-N DOCKER-ISOLATION-STAGE-1
-N DOCKER-ISOLATION-STAGE-2
-N DOCKER-USER
-A FORWARD -j DOCKER-USER
-A FORWARD -j DOCKER-ISOLATION-STAGE-1
-A FORWARD -o docker0 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A FORWARD -o docker0 -j DOCKER
-A FORWARD -i docker0 ! -o docker0 -j ACCEPT
-A FORWARD -i docker0 -o docker0 -j ACCEPT
-A DOCKER-ISOLATION-STAGE-1 -i docker0 ! -o docker0 -j DOCKER-ISOLATION-STAGE-2
-A DOCKER-ISOLATION-STAGE-1 -j RETURN
-A DOCKER-ISOLATION-STAGE-2 -o docker0 -j DROP
-A DOCKER-ISOLATION-STAGE-2 -j RETURN
-A DOCKER-USER -j RETURN
";

    /// The filter table kube-proxy (iptables mode) keeps on a worker.
    const KUBE_PROXY: &str = r#"-P INPUT ACCEPT
-P FORWARD DROP
-P OUTPUT ACCEPT
-N KUBE-EXTERNAL-SERVICES
-N KUBE-FIREWALL
-N KUBE-FORWARD
-N KUBE-KUBELET-CANARY
-N KUBE-NODEPORTS
-N KUBE-PROXY-CANARY
-N KUBE-PROXY-FIREWALL
-N KUBE-SERVICES
-A INPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes load balancer firewall" -j KUBE-PROXY-FIREWALL
-A INPUT -m comment --comment "kubernetes health check service ports" -j KUBE-NODEPORTS
-A INPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes externally-visible service portals" -j KUBE-EXTERNAL-SERVICES
-A INPUT -j KUBE-FIREWALL
-A FORWARD -m conntrack --ctstate NEW -m comment --comment "kubernetes load balancer firewall" -j KUBE-PROXY-FIREWALL
-A FORWARD -m comment --comment "kubernetes forwarding rules" -j KUBE-FORWARD
-A FORWARD -m conntrack --ctstate NEW -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
-A FORWARD -m conntrack --ctstate NEW -m comment --comment "kubernetes externally-visible service portals" -j KUBE-EXTERNAL-SERVICES
-A OUTPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes load balancer firewall" -j KUBE-PROXY-FIREWALL
-A OUTPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
-A OUTPUT -j KUBE-FIREWALL
-A KUBE-FIREWALL ! -s 127.0.0.0/8 -d 127.0.0.0/8 -m comment --comment "block incoming localnet connections" -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP
-A KUBE-FORWARD -m conntrack --ctstate INVALID -j DROP
-A KUBE-FORWARD -m comment --comment "kubernetes forwarding rules" -m mark --mark 0x4000/0x4000 -j ACCEPT
-A KUBE-FORWARD -m comment --comment "kubernetes forwarding conntrack rule" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A KUBE-SERVICES -d 10.32.0.10/32 -p udp -m comment --comment "kube-system/kube-dns:dns has no endpoints" -m udp --dport 53 -j REJECT --reject-with icmp-port-unreachable
"#;

    /// A rule's words run through a real shell, as the fix command hands them to iptables.
    fn shell_words(command: &str) -> Vec<String> {
        let args = command.strip_prefix("sudo iptables ").unwrap();
        let out = std::process::Command::new("sh")
            .args(["-c", &format!("for w in {args}; do printf '%s\\n' \"$w\"; done")])
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap().lines().map(str::to_string).collect()
    }

    #[test]
    fn debian_default_accepts() {
        let fw = firewall(DEBIAN);
        assert_eq!(fw.chains.len(), 3);
        assert_eq!(fw.chain("FORWARD").unwrap().policy.as_deref(), Some("ACCEPT"));
        let p = request("10.200.0.5", "10.200.1.7");
        assert_eq!(fw.forward(&p), Verdict::Accept);
        assert_eq!(fw.forward(&p.reply()), Verdict::Accept);
    }

    #[test]
    fn docker_drops_pod_traffic_by_its_policy() {
        let fw = firewall(DOCKER);
        assert_eq!(fw.chains.len(), 7);
        assert_eq!(fw.chain("DOCKER-ISOLATION-STAGE-1").unwrap().rules.len(), 2);
        let drop = dropped(fw.forward(&request("10.200.0.5", "10.200.1.7")));
        assert_eq!(drop, Drop { chain: "FORWARD".into(), rule: None, target: "DROP".into() });
        assert_eq!(drop.fix(), "sudo iptables -P FORWARD ACCEPT");
        assert_eq!(drop.to_string(), "the FORWARD policy is DROP");
        assert_eq!(drop.describe(), "the FORWARD policy is DROP");
        // Docker's own containers still get out, through its ACCEPT rule.
        let container =
            Packet { in_iface: Some("docker0".into()), ..request("172.17.0.2", "10.240.0.21") };
        assert_eq!(fw.forward(&container), Verdict::Accept);
        let within = Packet { out_iface: Some("docker0".into()), ..container.clone() };
        assert_eq!(fw.forward(&within), Verdict::Accept);
    }

    #[test]
    fn kthw_accept_rule_lets_pods_through_but_not_other_sources() {
        let fw = firewall(&format!("{DOCKER}-A FORWARD -s 10.200.0.0/16 -j ACCEPT\n"));
        let p = request("10.200.0.5", "10.200.1.7");
        assert_eq!(fw.forward(&p), Verdict::Accept);
        assert_eq!(fw.forward(&p.reply()), Verdict::Accept);
        // A pod pinging the other node's address: the reply comes from outside 10.200/16.
        let to_node = request("10.200.0.5", "10.240.0.21");
        assert_eq!(fw.forward(&to_node), Verdict::Accept);
        let drop = dropped(fw.forward(&to_node.reply()));
        assert_eq!(drop.rule, None);
        assert_eq!(drop.target, "DROP");
    }

    #[test]
    fn a_drop_rule_is_named_with_its_fix() {
        let fw = firewall(&format!("{DEBIAN}-A FORWARD -d 10.200.1.0/24 -j DROP\n"));
        let drop = dropped(fw.forward(&request("10.200.0.5", "10.200.1.7")));
        assert_eq!(
            drop,
            Drop {
                chain: "FORWARD".into(),
                rule: Some("-A FORWARD -d 10.200.1.0/24 -j DROP".into()),
                target: "DROP".into(),
            }
        );
        assert_eq!(drop.fix(), "sudo iptables -D FORWARD -d 10.200.1.0/24 -j DROP");
        assert_eq!(drop.to_string(), "the rule `-A FORWARD -d 10.200.1.0/24 -j DROP`");
        // Other destinations pass.
        assert_eq!(fw.forward(&request("10.200.1.7", "10.200.0.5")), Verdict::Accept);
    }

    #[test]
    fn a_reject_rule_with_its_options_drops() {
        let rule = "-A FORWARD -s 10.200.0.0/16 -j REJECT --reject-with icmp-port-unreachable";
        let fw = firewall(&format!("{DEBIAN}{rule}\n"));
        let drop = dropped(fw.forward(&request("10.200.0.5", "10.200.1.7")));
        assert_eq!((drop.rule.as_deref(), drop.target.as_str()), (Some(rule), "REJECT"));
        assert_eq!(
            drop.fix(),
            "sudo iptables -D FORWARD -s 10.200.0.0/16 -j REJECT --reject-with \
             icmp-port-unreachable"
        );
    }

    #[test]
    fn a_drop_in_a_user_chain_names_that_chain() {
        let fw = firewall(&format!(
            "{DEBIAN}-N LAB\n-A FORWARD -i cni+ -j LAB\n-A LAB -s 10.200.0.0/24 -j DROP\n"
        ));
        let drop = dropped(fw.forward(&request("10.200.0.5", "10.200.1.7")));
        assert_eq!(drop.chain, "LAB");
        assert_eq!(drop.fix(), "sudo iptables -D LAB -s 10.200.0.0/24 -j DROP");
    }

    #[test]
    fn negations_and_wildcards() {
        let fw = firewall(&format!(
            "{DEBIAN}-A FORWARD ! -s 10.200.0.0/16 -j DROP\n\
             -A FORWARD -i cni+ ! -o flannel+ -j DROP\n"
        ));
        // From a pod, out by flannel: neither rule.
        let vxlan =
            Packet { out_iface: Some("flannel.1".into()), ..request("10.200.0.5", "10.200.1.7") };
        assert_eq!(fw.forward(&vxlan), Verdict::Accept);
        // From a pod, out by the lab NIC: the second rule.
        let drop = dropped(fw.forward(&request("10.200.0.5", "10.200.1.7")));
        assert_eq!(drop.rule.as_deref(), Some("-A FORWARD -i cni+ ! -o flannel+ -j DROP"));
        assert_eq!(drop.fix(), "sudo iptables -D FORWARD -i cni+ ! -o flannel+ -j DROP");
        assert_eq!(
            shell_words(&drop.fix()),
            ["-D", "FORWARD", "-i", "cni+", "!", "-o", "flannel+", "-j", "DROP"]
        );
        // From outside the pod network: the first rule.
        let drop = dropped(fw.forward(&request("10.240.0.21", "10.200.1.7")));
        assert_eq!(drop.fix(), "sudo iptables -D FORWARD ! -s 10.200.0.0/16 -j DROP");
        // An unknown interface matches `! -o X` but not `-i X`.
        let unknown =
            Packet { in_iface: None, out_iface: None, ..request("10.200.0.5", "10.200.1.7") };
        assert_eq!(fw.forward(&unknown), Verdict::Accept);
        let fw = firewall(&format!("{DEBIAN}-A FORWARD ! -o enp0s8 -j DROP\n"));
        assert_eq!(dropped(fw.forward(&unknown)).target, "DROP");
    }

    #[test]
    fn a_comment_with_spaces_is_one_word_and_quoted_in_the_fix() {
        let rule =
            r#"-A FORWARD -d 10.200.0.0/16 -m comment --comment "block pod traffic" -j DROP"#;
        let fw = firewall(&format!("{DEBIAN}{rule}\n"));
        let parsed = &fw.chain("FORWARD").unwrap().rules[0];
        assert_eq!(parsed.text, rule);
        assert!(parsed.not_understood.is_empty(), "{:?}", parsed.not_understood);
        let drop = dropped(fw.forward(&request("10.200.0.5", "10.200.1.7")));
        assert_eq!(
            drop.fix(),
            "sudo iptables -D FORWARD -d 10.200.0.0/16 -m comment --comment 'block pod traffic' \
             -j DROP"
        );
        // Quotes and shell syntax in a comment (iptables escapes `"` and `\\` in it) come
        // back from the shell as the one word iptables stored.
        let rule = r#"-A FORWARD -m comment --comment "lab's \"no pods\" rule; $(x) \\ !" -j DROP"#;
        let drop = dropped(
            firewall(&format!("{DEBIAN}{rule}\n")).forward(&request("10.200.0.5", "10.200.1.7")),
        );
        assert_eq!(
            shell_words(&drop.fix()),
            [
                "-D",
                "FORWARD",
                "-m",
                "comment",
                "--comment",
                r#"lab's "no pods" rule; $(x) \ !"#,
                "-j",
                "DROP"
            ]
        );
    }

    #[test]
    fn an_unknown_match_makes_a_rule_never_match() {
        let fw = firewall(&format!(
            "{DEBIAN}-A FORWARD -m set --match-set blocked dst -j DROP\n\
             -A FORWARD -p icmp -m limit --limit 5/sec -j DROP\n\
             -A FORWARD -m conntrack --ctstate NEW --ctorigsrc 10.0.0.0/8 -j DROP\n\
             -A FORWARD -j LOG --log-prefix \"fwd: \"\n"
        ));
        let rules = &fw.chain("FORWARD").unwrap().rules;
        assert_eq!(rules[0].not_understood, ["-m set"]);
        assert_eq!(rules[1].not_understood, ["-m limit"]);
        assert_eq!(rules[2].not_understood, ["--ctorigsrc 10.0.0.0/8"]);
        assert!(rules[3].not_understood.is_empty());
        assert_eq!(fw.forward(&request("10.200.0.5", "10.200.1.7")), Verdict::Accept);
    }

    #[test]
    fn protocols_and_icmp_types() {
        let fw = firewall(&format!(
            "{DEBIAN}-A FORWARD -p tcp -j DROP\n\
             -A FORWARD ! -p icmp -j DROP\n\
             -A FORWARD -p icmp -m icmp --icmp-type 0 -j ACCEPT\n\
             -A FORWARD -p icmp -m icmp ! --icmp-type 3/4 -j DROP\n"
        ));
        let p = request("10.200.0.5", "10.200.1.7");
        assert_eq!(fw.forward(&p.reply()), Verdict::Accept);
        let drop = dropped(fw.forward(&p));
        assert_eq!(
            drop.rule.as_deref(),
            Some("-A FORWARD -p icmp -m icmp ! --icmp-type 3/4 -j DROP")
        );
        let fw = firewall(&format!(
            "{DEBIAN}-A FORWARD -p all -f -j DROP\n-A FORWARD -p 0 ! -f -j DROP\n"
        ));
        assert_eq!(dropped(fw.forward(&p)).rule.as_deref(), Some("-A FORWARD -p 0 ! -f -j DROP"));
    }

    #[test]
    fn return_goto_and_depth() {
        // RETURN in FORWARD falls to its policy.
        let fw = firewall("-P FORWARD DROP\n-A FORWARD -j RETURN\n-A FORWARD -j ACCEPT\n");
        assert_eq!(dropped(fw.forward(&request("10.200.0.5", "10.200.1.7"))).rule, None);
        // When a chain reached by `-g` returns, FORWARD returns too: the ACCEPT is not reached.
        let fw = firewall("-P FORWARD DROP\n-N G\n-A FORWARD -g G\n-A FORWARD -j ACCEPT\n");
        assert_eq!(dropped(fw.forward(&request("10.200.0.5", "10.200.1.7"))).rule, None);
        let fw = firewall("-P FORWARD DROP\n-N G\n-A FORWARD -j G\n-A FORWARD -j ACCEPT\n");
        assert_eq!(fw.forward(&request("10.200.0.5", "10.200.1.7")), Verdict::Accept);
        // A chain calling itself (which the kernel would refuse) ends, and gives no verdict.
        let fw = firewall("-P FORWARD ACCEPT\n-N L\n-A FORWARD -j L\n-A L -j L\n");
        assert_eq!(fw.forward(&request("10.200.0.5", "10.200.1.7")), Verdict::Accept);
        // A chain nested 20 deep, dropping at the bottom: too deep to follow.
        let mut listing = String::from("-P FORWARD ACCEPT\n-A FORWARD -j C0\n");
        for n in 0..20 {
            listing.push_str(&format!("-N C{n}\n-A C{n} -j C{}\n", n + 1));
        }
        listing.push_str("-N C20\n-A C20 -j DROP\n");
        assert_eq!(
            firewall(&listing).forward(&request("10.200.0.5", "10.200.1.7")),
            Verdict::Accept
        );
    }

    #[test]
    fn kube_proxy_invalid_drop_spares_new_and_established() {
        let fw = firewall(KUBE_PROXY);
        let invalid = &fw.chain("KUBE-FORWARD").unwrap().rules[0];
        assert!(invalid.not_understood.is_empty());
        let mark = &fw.chain("KUBE-FORWARD").unwrap().rules[1];
        assert_eq!(mark.not_understood, ["-m mark"]);
        let p = request("10.200.0.5", "10.200.1.7");
        // The request passes kube-proxy's chains and meets Docker-style DROP policy;
        let drop = dropped(fw.forward(&p));
        assert_eq!((drop.chain.as_str(), drop.rule.as_deref()), ("FORWARD", None));
        // the reply is accepted by KUBE-FORWARD's conntrack rule.
        assert_eq!(fw.forward(&p.reply()), Verdict::Accept);
        // With an ACCEPT policy nothing in kube-proxy's chains drops a ping.
        let open = firewall(&KUBE_PROXY.replace("-P FORWARD DROP", "-P FORWARD ACCEPT"));
        assert_eq!(open.forward(&p), Verdict::Accept);
        // Negated matches of both kinds are understood.
        let localnet = &fw.chain("KUBE-FIREWALL").unwrap().rules[0];
        assert!(localnet.not_understood.is_empty());
        assert_eq!(
            localnet.matches,
            [
                Match {
                    negated: true,
                    condition: Condition::Source("127.0.0.0/8".parse().unwrap())
                },
                Match {
                    negated: false,
                    condition: Condition::Destination("127.0.0.0/8".parse().unwrap())
                },
                Match {
                    negated: true,
                    condition: Condition::State(vec![
                        "RELATED".into(),
                        "ESTABLISHED".into(),
                        "DNAT".into()
                    ])
                },
            ]
        );
        // A service without endpoints: its REJECT is for UDP, not pings.
        assert_eq!(fw.chain("KUBE-SERVICES").unwrap().rules[0].not_understood, ["-m udp"]);
    }

    #[test]
    fn cannot_read_is_unknown_not_an_error() {
        let not_found = Section {
            code: 127,
            stderr: "sh: 1: iptables: not found\n".into(),
            ..Section::ran(NAME, "")
        };
        assert_eq!(parse(&not_found), Ok(None));
        let not_root = Section {
            code: 4,
            stderr: "iptables v1.8.9 (nf_tables): Could not fetch rule set generation id: \
                     Permission denied (you must be root)\n"
                .into(),
            ..Section::ran(NAME, "")
        };
        assert_eq!(parse(&not_root), Ok(None));
        let legacy_not_root = Section {
            code: 3,
            stderr: "iptables v1.8.7 (legacy): can't initialize iptables table `filter': \
                     Permission denied (you must be root)\n"
                .into(),
            ..Section::ran(NAME, "")
        };
        assert_eq!(parse(&legacy_not_root), Ok(None));
    }

    #[test]
    fn output_that_is_not_a_listing_is_an_error_naming_the_line() {
        let err = parse(&Section::ran(NAME, "-P FORWARD ACCEPT\nChain INPUT (policy ACCEPT)\n"))
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "fact `iptables`: line 2: expected `-P`, `-N` or `-A`: `Chain INPUT (policy ACCEPT)`"
        );
        let err =
            parse(&Section::ran(NAME, "-P FORWARD ACCEPT\n-A FORWARD -m comment --comment \"x\n"))
                .unwrap_err()
                .to_string();
        assert!(err.contains("line 2: unbalanced quotes"), "{err}");
        let err = parse(&Section::ran(NAME, "")).unwrap_err().to_string();
        assert_eq!(err, "fact `iptables`: no `-P FORWARD` line: not what `iptables -S` prints");
        // A warning line of iptables-nft is not a rule.
        let fw = firewall(&format!(
            "# Warning: iptables-legacy tables present, use iptables-legacy to see them\n{DEBIAN}"
        ));
        assert_eq!(fw.chains.len(), 3);
    }

    #[test]
    fn addresses_in_every_form() {
        assert_eq!(address("10.200.1.5"), Some("10.200.1.5/32".parse().unwrap()));
        assert_eq!(address("10.200.0.0/16"), Some("10.200.0.0/16".parse().unwrap()));
        assert_eq!(address("10.200.0.0/255.255.0.0"), Some("10.200.0.0/16".parse().unwrap()));
        assert_eq!(address("10.0.0.0/255.0.255.0"), None);
        assert_eq!(address("example.org"), None);
        let fw = firewall(&format!("{DEBIAN}-A FORWARD -d 10.0.0.0/255.0.255.0 -j DROP\n"));
        assert_eq!(
            fw.chain("FORWARD").unwrap().rules[0].not_understood,
            ["-d 10.0.0.0/255.0.255.0"]
        );
    }
}
