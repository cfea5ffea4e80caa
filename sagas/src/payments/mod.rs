//! The payment provider behind an adapter trait, its HTTP client and the local simulator.
