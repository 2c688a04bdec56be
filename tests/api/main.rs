//! Black-box tests of pollcast: the whole application on port 0 with a fresh embedded local
//! Momento, driven over HTTP (and the official `momento` crate where voters would use it).

mod crash;
mod health;
mod keep_alive;
mod late_votes;
mod lifecycle;
mod openapi;
mod poll_errors;
mod polls;
mod race;
mod results;
mod service;
mod startup;
mod support;
mod token_permissions;
mod tokens;
mod vote_faults;
mod vote_order;
mod vote_races;
mod votes_e2e;
mod webhook;
