//! Stand-ins for the services labctl talks to besides SSH: the GCE compute API (behind the
//! real `gcloud`) and a Kubernetes API server (behind the real `kubectl`).

pub mod compute;
pub mod kube_api;
