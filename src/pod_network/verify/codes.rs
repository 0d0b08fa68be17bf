//! The names chapter 11's verify gives the report: its two kinds of pair check and its kinds
//! of diagnosis, each documented in docs/verify-json.md.

use crate::verify::{DiagnosisCode, PairKind};

/// `ip route get` on `from` for `to`'s probe address.
pub const ROUTE_EVIDENCE: PairKind = PairKind {
    name: "route-evidence",
    key: "route_evidence",
    label: "route",
    column: "routes",
    count_field: "routes",
};
/// The ping from `from`'s probe pod to `to`'s.
pub const DATA_PLANE: PairKind = PairKind {
    name: "data-plane",
    key: "data_plane",
    label: "ping ",
    column: "pod pairs",
    count_field: "pod_pairs",
};

/// Both kinds, in the order a pair has them.
pub const PAIR_KINDS: [PairKind; 2] = [ROUTE_EVIDENCE, DATA_PLANE];

pub const NODE_UNREACHABLE: DiagnosisCode = DiagnosisCode("node-unreachable");
pub const FACTS_UNREADABLE: DiagnosisCode = DiagnosisCode("facts-unreadable");
pub const NO_POD_CIDR: DiagnosisCode = DiagnosisCode("no-pod-cidr");
pub const DUPLICATE_POD_CIDR: DiagnosisCode = DiagnosisCode("duplicate-pod-cidr");
pub const PROBE_FAILED: DiagnosisCode = DiagnosisCode("probe-failed");
pub const NO_ROUTE: DiagnosisCode = DiagnosisCode("no-route");
pub const ROUTE_DROPS: DiagnosisCode = DiagnosisCode("route-drops");
pub const WRONG_NEXT_HOP: DiagnosisCode = DiagnosisCode("wrong-next-hop");
pub const NO_DEFAULT_GATEWAY: DiagnosisCode = DiagnosisCode("no-default-gateway");
pub const FLANNEL_MISSING: DiagnosisCode = DiagnosisCode("flannel-missing");
pub const FLANNEL_ON_NAT_INTERFACE: DiagnosisCode = DiagnosisCode("flannel-on-nat-interface");
pub const FLANNEL_WRONG_INTERFACE: DiagnosisCode = DiagnosisCode("flannel-wrong-interface");
pub const IP_FORWARD_OFF: DiagnosisCode = DiagnosisCode("ip-forward-off");
pub const RETURN_PATH: DiagnosisCode = DiagnosisCode("return-path");
pub const GATEWAY_DROPS: DiagnosisCode = DiagnosisCode("gateway-drops");
pub const PACKETS_LOST: DiagnosisCode = DiagnosisCode("packets-lost");
pub const POD_CIDR_MISMATCH: DiagnosisCode = DiagnosisCode("pod-cidr-mismatch");
pub const FORWARD_POLICY_DROP: DiagnosisCode = DiagnosisCode("forward-policy-drop");
pub const FORWARD_RULE_DROPS: DiagnosisCode = DiagnosisCode("forward-rule-drops");
pub const MTU_TOO_LARGE: DiagnosisCode = DiagnosisCode("mtu-too-large");
pub const POD_UNANSWERED: DiagnosisCode = DiagnosisCode("pod-unanswered");

/// Every code above.
pub const ALL: &[DiagnosisCode] = &[
    NODE_UNREACHABLE,
    FACTS_UNREADABLE,
    NO_POD_CIDR,
    DUPLICATE_POD_CIDR,
    PROBE_FAILED,
    NO_ROUTE,
    ROUTE_DROPS,
    WRONG_NEXT_HOP,
    NO_DEFAULT_GATEWAY,
    FLANNEL_MISSING,
    FLANNEL_ON_NAT_INTERFACE,
    FLANNEL_WRONG_INTERFACE,
    IP_FORWARD_OFF,
    RETURN_PATH,
    GATEWAY_DROPS,
    PACKETS_LOST,
    POD_CIDR_MISMATCH,
    FORWARD_POLICY_DROP,
    FORWARD_RULE_DROPS,
    MTU_TOO_LARGE,
    POD_UNANSWERED,
];
