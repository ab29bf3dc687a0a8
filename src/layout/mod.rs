//! The CloudTrail object key layout, beneath both the sources (which list by it) and the tables
//! (which prune by it): what a key or a folder says about its files ([`key`]), the span of values
//! it allows ([`span`]), and which keys and folders a filter rules out ([`pruning`]).

pub mod key;
pub mod pruning;
pub mod span;
