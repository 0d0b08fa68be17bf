//! labctl: run, check and reset the chapters of Kubernetes The Hard Way on lab machines.
//!
//! The architecture follows the data: an [`inventory`] and a [`chapter`] are read and checked,
//! [`template`]s turn the chapter's steps into concrete commands per host, and the
//! [`commands`] print or carry them out. The [`sandbox`] provides machines to run them on.

pub mod atomic_file;
pub mod chapter;
pub mod cli;
pub mod commands;
pub mod connector;
pub mod course;
pub mod diagnostic;
pub mod error;
pub mod facts;
pub mod inventory;
pub mod output;
pub mod ownership;
pub mod plan;
pub mod pod_network;
pub mod runner;
pub mod sandbox;
pub mod template;
pub mod verify;
pub mod yaml;
