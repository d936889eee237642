//! Every integration test in one binary: each file a module, so the AWS SDK, DataFusion and
//! tract are linked once for the suite rather than once per file (a fresh clone's build
//! spent most of its time linking fourteen such binaries).

#![recursion_limit = "256"]

mod alerts;
mod backup;
mod compliance;
mod decisions;
mod drill;
mod e2e;
mod exactly_once;
mod fixtures;
mod msk;
mod privacy;
mod producer;
mod report_trigger;
mod scorer;
mod template;
