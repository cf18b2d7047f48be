//! What several stages share (Ignition's `exec/util`): waiting for the devices a config names.

pub mod devices;
