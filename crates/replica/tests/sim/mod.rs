//! A deterministic simulation of rzk's replication layer: real openraft and
//! rzk's state machine adapter, snapshots and snapshot store, over an
//! in-process network and clock the seed controls. See `run` for a run,
//! `world` for the invariants, `net` for the faults.

pub mod cluster;
pub mod net;
pub mod rng;
pub mod run;
pub mod store;
pub mod tree;
pub mod world;
