//! Black-box tests of the local Momento, driven through the official `momento` crate.
//! One test binary (modules below) so it links once.

mod helpers;
mod tokens;
