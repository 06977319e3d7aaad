//! The one integration test binary: the real handler process against the Graph simulator.

mod helpers;
mod http_trigger;
