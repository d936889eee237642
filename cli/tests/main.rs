//! The `vigil` binary's tests in one test binary (each file a module), linked once.

mod audit;
mod browser;
mod replay;
mod report;
mod sanctions;
