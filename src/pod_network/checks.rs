//! Chapter 11's verify check kinds, which the chapter schema does not know: the course hands
//! them to every chapter it loads ([`KINDS`]), and they read their fields from the check as
//! written (docs/chapters.md, "A chapter's own Rust").

use serde::Deserialize;

use crate::chapter::Variant;
use crate::chapter::provided::{ProvidedKind, RunsOn};
use crate::chapter::schema::{ProvidedCheck, VerifyCheck};
use crate::error::Problem;

/// What a route from one worker to another worker's pod CIDR should go through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RouteExpectation {
    /// Directly via the other worker's lab address (static routes).
    ViaPeer,
    /// Via the VPC router, which holds a route to the other worker (GCE routes).
    ViaGateway,
    /// Through the `flannel.1` VXLAN device.
    ViaFlannel,
}

impl RouteExpectation {
    /// As written in a chapter and in verify's JSON (`via-peer`).
    pub fn as_str(self) -> &'static str {
        match self {
            RouteExpectation::ViaPeer => "via-peer",
            RouteExpectation::ViaGateway => "via-gateway",
            RouteExpectation::ViaFlannel => "via-flannel",
        }
    }
}

/// One of chapter 11's checks, read.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum PodCheck {
    /// `ip route get` on every worker for an address in every other worker's pod CIDR.
    RouteEvidence { expect: RouteExpectation },
    /// Temporary probe pods on every worker ping each other.
    PodMatrix {
        /// Ping attempts per pair.
        #[serde(default = "default_ping_count")]
        count: u32,
    },
    /// Every route the gce variant plans exists with the planned values.
    GceRoutes {},
    /// `flannel.1` uses the node's lab address, and the node's flannel subnet is in the cluster CIDR.
    FlannelState {},
}

fn default_ping_count() -> u32 {
    2
}

impl PodCheck {
    /// Reads a provided check as one of chapter 11's.
    pub fn read(check: &ProvidedCheck) -> Result<PodCheck, String> {
        let mut one = serde_json::Map::new();
        // `gce_routes:` with nothing after it means no fields, as `gce_routes: {}` does.
        let fields = match &check.fields.value {
            serde_json::Value::Null => serde_json::Value::Object(Default::default()),
            other => other.clone(),
        };
        one.insert(check.kind.value.clone(), fields);
        serde_json::from_value(serde_json::Value::Object(one)).map_err(|e| e.to_string())
    }

    /// Chapter 11's checks of `variant`, read (the course read them all when it loaded the
    /// chapter, so none fails here).
    pub fn of(variant: &Variant) -> Vec<PodCheck> {
        variant
            .verify
            .iter()
            .filter_map(|c| match c {
                VerifyCheck::Provided(p) => PodCheck::read(p).ok(),
                _ => None,
            })
            .collect()
    }
}

/// Chapter 11's verify check kinds.
pub static KINDS: &[ProvidedKind] = &[
    kind("route_evidence", RunsOn::Workers, true, read_any),
    kind("pod_matrix", RunsOn::Workers, true, read_any),
    kind("gce_routes", RunsOn::ThisMachine, false, read_gce_routes),
    kind("flannel_state", RunsOn::Workers, false, read_any),
];

const fn kind(
    name: &'static str,
    runs_on: RunsOn,
    pairwise: bool,
    read: fn(&Variant, &ProvidedCheck) -> Result<(), Problem>,
) -> ProvidedKind {
    ProvidedKind { name, runs_on, pairwise, read, describe, shape }
}

fn read_any(_: &Variant, check: &ProvidedCheck) -> Result<(), Problem> {
    PodCheck::read(check).map(|_| ()).map_err(|message| Problem { message, help: None })
}

fn read_gce_routes(variant: &Variant, check: &ProvidedCheck) -> Result<(), Problem> {
    read_any(variant, check)?;
    if variant.cloud.is_none() {
        return Err(Problem {
            message: "it checks the workers' GCE routes, and the variant does not say `cloud: gce`"
                .into(),
            help: Some("`cloud: gce` makes labctl read the workers' instances that the routes are checked against".into()),
        });
    }
    Ok(())
}

fn describe(check: &ProvidedCheck) -> String {
    match PodCheck::read(check) {
        Ok(PodCheck::RouteEvidence { expect }) => format!(
            "route evidence ({})",
            match expect {
                RouteExpectation::ViaPeer => "via the other worker",
                RouteExpectation::ViaGateway => "via the VPC gateway",
                RouteExpectation::ViaFlannel => "via flannel.1",
            }
        ),
        Ok(PodCheck::PodMatrix { count }) => format!("pod-to-pod matrix ({count} pings per pair)"),
        Ok(PodCheck::GceRoutes {}) => "GCE routes present".to_string(),
        Ok(PodCheck::FlannelState {}) => {
            "flannel.1 on the lab address, subnet in the cluster CIDR".to_string()
        }
        Err(_) => check.kind.value.clone(),
    }
}

/// Routes via the VPC router are what the sandbox's gce shape imitates.
fn shape(check: &ProvidedCheck) -> Option<&'static str> {
    match PodCheck::read(check) {
        Ok(PodCheck::RouteEvidence { expect: RouteExpectation::ViaGateway }) => Some("gce"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chapter(verify: &str) -> Result<crate::chapter::Chapter, crate::error::Error> {
        let text = format!(
            "chapter: c\ntitle: T\ndefault_variant: {{ssh: a, vagrant: a, gce: a}}\nvariants:\n  - name: a\n    summary: s\n    steps:\n      - {{name: s, summary: s, where: workers, check: 'true', run: 'true', undo: 'true'}}\n    verify:\n{verify}"
        );
        let chapter = crate::chapter::Chapter::parse(
            std::path::Path::new("c.yaml"),
            &text,
            crate::template::TemplateSource::Builtin,
        )?;
        crate::course::Course {
            catalog: crate::course::Catalog::Builtin,
            variables: None,
            verify_kinds: KINDS,
        }
        .prepare(chapter)
    }

    #[test]
    fn chapter_11s_kinds_are_read_from_the_check_as_written() {
        let c = chapter("      - route_evidence: {expect: via-peer}\n      - pod_matrix: {count: 3}\n      - flannel_state: {}\n").unwrap();
        let variant = &c.spec.variants[0];
        let checks = PodCheck::of(variant);
        assert!(matches!(checks[0], PodCheck::RouteEvidence { expect: RouteExpectation::ViaPeer }));
        assert!(matches!(checks[1], PodCheck::PodMatrix { count: 3 }));
        assert!(matches!(checks[2], PodCheck::FlannelState {}));
        assert!(c.pairwise(variant));
        assert!(!c.runs_on(variant, RunsOn::ThisMachine));
    }

    #[test]
    fn a_misspelt_kind_or_field_is_refused_at_its_line() {
        let err = chapter("      - route_evidense: {expect: via-peer}\n").unwrap_err().to_string();
        assert!(err.contains("c.yaml:10"), "{err}");
        assert!(
            err.contains(
                "kind `route_evidense`, which labctl does not know; did you mean `route_evidence`?"
            ),
            "{err}"
        );
        let err = chapter("      - pod_matrix: {cuont: 3}\n").unwrap_err().to_string();
        assert!(err.contains("c.yaml:10"), "{err}");
        assert!(
            err.contains("verify check `pod_matrix` of variant `a`: unknown field `cuont`"),
            "{err}"
        );
        let err = chapter("      - gce_routes: {}\n").unwrap_err().to_string();
        assert!(err.contains("does not say `cloud: gce`"), "{err}");
    }
}
