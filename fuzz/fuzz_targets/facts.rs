//! The fact parsers: the framing of a gather script's output into sections, every fact's own
//! parser (addresses, routes, route_get, ip_forward, cni_config, flannel, probe_claim,
//! iptables), and the whole host and check-script readers built on them.
#![no_main]

use std::net::Ipv4Addr;

use labctl::facts::iptables::{ConnState, Packet, Verdict};
use labctl::facts::section::{self, Section};
use labctl::facts::{
    Destination, FactError, addresses, cni_config, ip_forward, iptables, probe_claim, route_get,
    routes,
};
use labctl::pod_network::flannel::facts as flannel;
use libfuzzer_sys::fuzz_target;

/// Frames a section as the gather script's `fact`/`file_fact` shell functions print it.
fn frame(s: &Section) -> String {
    if s.absent {
        return format!("::labctl:: begin {}\n::labctl:: absent\n::labctl:: end\n", s.name);
    }
    let mut out = format!("::labctl:: begin {}\n{}\n::labctl:: rc {}\n", s.name, s.stdout, s.code);
    for line in s.stderr.lines() {
        out.push_str(&format!("::labctl:: stderr {line}\n"));
    }
    out.push_str("::labctl:: end\n");
    out
}

/// A parser's error names the section it was reading (or where the framing broke).
fn check_fact_error(e: &FactError, section: &str) {
    match e {
        FactError::MissingSection { section: s }
        | FactError::CommandFailed { section: s, .. }
        | FactError::Unexpected { section: s, .. } => assert_eq!(s, section, "{e:?}"),
        FactError::Framing { line, problem } => {
            assert!(*line >= 1 && !problem.is_empty(), "{e:?}")
        }
    }
    assert!(!e.to_string().trim().is_empty());
}

fn fact<T>(result: Result<T, FactError>, section: &Section) -> Option<T> {
    result.map_err(|e| check_fact_error(&e, &section.name)).ok()
}

fuzz_target!(|data: &[u8]| {
    // The runner reads the script's output lossily, so any bytes can arrive here.
    let text = String::from_utf8_lossy(data);
    let _ = flannel::parse(&text).map_err(|e| assert!(!e.to_string().is_empty()));
    let _ = labctl::pod_network::verify::probe::parse_check(&text);
    let sections = match section::parse_output(&text) {
        Ok(sections) => sections,
        Err(e) => return check_fact_error(&e, ""),
    };
    // Framed again, the sections read back the same.
    let framed: String = sections.iter().map(frame).collect();
    assert_eq!(section::parse_output(&framed).as_ref(), Ok(&sections), "{framed:?}");

    // Every parser on every section, whatever its name: none may panic, and each error names
    // the section.
    for s in &sections {
        fact(addresses::parse(s), s);
        fact(ip_forward::parse(s), s);
        fact(flannel::parse_link(s), s);
        fact(flannel::parse_subnet_env(s), s);
        fact(probe_claim::parse(s), s);
        fact(route_get::parse(s), s);
        if cni_config::path_of(&s.name).is_some() {
            fact(cni_config::parse(s), s);
        }
        if let Some(routes) = fact(routes::parse(s), s) {
            for route in routes {
                // A destination prints as `ip` prints it, and reads back the same.
                let shown = route.destination.to_string();
                assert_eq!(Destination::parse(&shown), Some(route.destination), "{shown}");
            }
        }
        if let Some(Some(firewall)) = fact(iptables::parse(s), s) {
            let request = Packet {
                src: Ipv4Addr::new(10, 200, 0, 2),
                dst: Ipv4Addr::new(10, 200, 1, 2),
                in_iface: Some("cni0".into()),
                out_iface: Some("flannel.1".into()),
                state: ConnState::New,
            };
            for packet in [request.clone(), request.reply()] {
                let verdict = firewall.forward(&packet);
                assert_eq!(verdict, firewall.forward(&packet));
                if let Verdict::Dropped(drop) = &verdict {
                    assert!(firewall.chain(&drop.chain).is_some(), "{drop:?}");
                    assert!(!drop.fix().is_empty() && !drop.describe().is_empty());
                }
            }
        }
    }
});
