//! Everything that crosses the boundary between the flowwatch kernel programs
//! and userspace, plus the one packet parser both sides use.
//!
//! Rules for the structs in [`flow`] and [`counters`] (they are read as raw
//! bytes out of BPF maps): `#[repr(C)]`, plain integers, explicit `_pad`
//! fields, no `bool`, enum, `Option` or `packed`. `tests/layout.rs` pins
//! their sizes and offsets; change both together or not at all.
#![no_std]

pub mod counters;
pub mod flow;
pub mod freeze;
pub mod names;
pub mod parse;
pub mod sample;
