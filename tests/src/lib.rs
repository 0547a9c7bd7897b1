//! Harness for flowwatch's privileged integration tests.
//!
//! Every test builds its own world: two network namespaces joined by a veth
//! pair ([`lab::Lab`]), traffic generated only inside them ([`traffic`]),
//! the agent under test attached to one veth end ([`agent::Agent`]), and
//! `tcpdump` as independent ground truth ([`capture::Capture`]). Every
//! resource is a guard that tears itself down on drop, including on panic.
//! Nothing here touches the machine's own interfaces.

pub mod agent;
pub mod capture;
pub mod cmd;
pub mod frames;
pub mod key;
pub mod lab;
pub mod malformed;
pub mod names;
pub mod netns;
pub mod packet;
pub mod padding;
pub mod process;
pub mod records;
pub mod root;
pub mod shared_data;
pub mod snmp;
pub mod traffic;
pub mod veth;

pub use root::require_root;
