//! Gathers the integration tests into one binary, which runs the real handler process against
//! the Graph simulator.

mod azure_control;
mod bulk;
mod command_line;
mod conflict;
mod contract;
mod demo;
mod graph_faults;
mod hardening;
mod helpers;
mod http_callers;
mod http_trigger;
mod instances;
mod least_privilege;
mod notify;
mod openapi;
mod picture;
mod preflight;
mod privacy;
mod queue;
mod queue_callers;
mod readiness;
mod readiness_app;
mod real_queue;
mod replay;
mod security;
mod smoke;
mod startup;
mod storage;
mod tidy;
mod withheld;
