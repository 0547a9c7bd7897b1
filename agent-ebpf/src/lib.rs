//! Building blocks shared by the flowwatch kernel programs.
#![no_std]

pub mod frame;
pub mod record;
pub mod sample;
