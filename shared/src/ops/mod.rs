//! The operations the CLI's commands are made of, on the ports: each command parses its
//! arguments, calls one of these, and renders what it returns.

pub mod audit;
pub mod backfill;
pub mod gate;
pub mod retention;
pub mod wait;
