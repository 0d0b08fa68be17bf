//! No parser panics on any input: every parser of a file or a command's output is fed
//! thousands of mutations of real inputs (bytes flipped, dropped, duplicated, spliced) and must
//! return a value or an error. A seeded generator keeps every run the same; `LABCTL_MUTATIONS`
//! raises the count for a longer search.

use std::path::Path;

/// A small deterministic generator (xorshift64*), so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const INTERESTING: &[&str] = &[
    "{{",
    "}}",
    "{%",
    ":",
    "- ",
    "\n",
    "\t",
    "*a",
    "&a ",
    "[",
    "]",
    "\"",
    "'",
    "#",
    "/",
    ".",
    "999",
    "\u{0}",
    "é",
    "::labctl:: begin x\n",
];

fn mutate(rng: &mut Rng, input: &[u8]) -> Vec<u8> {
    let mut out = input.to_vec();
    for _ in 0..1 + rng.below(4) {
        let at = rng.below(out.len() + 1);
        match rng.below(5) {
            0 if !out.is_empty() => {
                let i = at.min(out.len() - 1);
                out[i] = rng.next() as u8;
            }
            1 if !out.is_empty() => {
                let end = (at + rng.below(16)).min(out.len());
                out.drain(at.min(end)..end);
            }
            2 => {
                let piece = INTERESTING[rng.below(INTERESTING.len())];
                out.splice(at..at, piece.bytes());
            }
            3 if !out.is_empty() => {
                let start = rng.below(out.len());
                let end = (start + rng.below(64)).min(out.len());
                let copy = out[start..end].to_vec();
                out.splice(at..at, copy);
            }
            _ => out.truncate(at),
        }
    }
    out
}

fn rounds() -> usize {
    std::env::var("LABCTL_MUTATIONS").ok().and_then(|v| v.parse().ok()).unwrap_or(1500)
}

/// Calls `parse` on every mutation of every seed input.
fn fuzz(seeds: &[&str], parse: impl Fn(&str)) {
    let mut rng = Rng(0x5eed_1abc_7100_0001);
    for seed in seeds {
        parse(seed);
        for _ in 0..rounds() {
            let bytes = mutate(&mut rng, seed.as_bytes());
            parse(&String::from_utf8_lossy(&bytes));
        }
    }
}

fn read(path: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(path)).unwrap()
}

#[test]
fn chapter_parser() {
    let seeds = [
        read("labs/11-pod-network-routes.yaml"),
        read("tests/corpus/chapters/undefined-in-block.yaml"),
    ];
    let seeds: Vec<&str> = seeds.iter().map(String::as_str).collect();
    fuzz(&seeds, |text| {
        if let Ok(chapter) = labctl::chapter::Chapter::parse(
            Path::new("labs/11-pod-network-routes.yaml"),
            text,
            labctl::template::TemplateSource::Builtin,
        ) {
            let _ = labctl::commands::course().prepare(chapter);
        }
    });
}

#[test]
fn inventory_parsers() {
    let yaml = read("examples/labctl.yaml");
    let machines = read("examples/machines.txt");
    let ssh = read("tests/fixtures/inventory/vagrant-ssh-config-virtualbox.txt");
    let path = Path::new("inventory");
    fuzz(&[&yaml, &machines, &ssh], |text| {
        let _ = labctl::inventory::yaml_format::parse_str(path, text)
            .map(|i| labctl::inventory::lint(&i));
        let _ = labctl::inventory::machines_txt::parse_str(path, text)
            .map(|i| labctl::inventory::lint(&i));
        let _ = labctl::inventory::ssh_config::parse(path, text);
        let _ = labctl::inventory::sniff::sniff(text);
    });
}

#[test]
fn fact_and_probe_parsers() {
    let gather = read("tests/fixtures/facts/gather-static-worker-1.txt");
    let flannel = read("tests/fixtures/facts/gather-flannel-nat-worker-1.txt");
    let check = read("tests/fixtures/facts/check-after-routes.txt");
    fuzz(&[&gather, &flannel, &check], |text| {
        let _ = labctl::pod_network::flannel::facts::parse(text);
        let _ = labctl::pod_network::verify::probe::parse_check(text);
    });
}
