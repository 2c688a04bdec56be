//! Black-box tests of pollcast: the whole application on port 0 with a fresh embedded local
//! Momento, driven over HTTP (and the official `momento` crate where voters would use it).

mod ballot_status;
mod contract;
mod cors;
mod crash;
mod events;
mod health;
mod keep_alive;
mod kinds;
mod late_votes;
mod lifecycle;
mod links;
mod open_text;
mod openapi;
mod overload;
mod pages;
mod poll_errors;
mod polls;
mod race;
mod recount;
mod results;
mod results_view;
mod service;
mod service_mode;
mod startup;
mod subscription_resume;
mod support;
mod token_permissions;
mod tokens;
mod topics_spec;
mod vote_faults;
mod vote_order;
mod vote_races;
mod voter_cookie;
mod votes_e2e;
mod webhook;
