//! The order-fulfilment saga: the process manager that drives Inventory, Payment and Order through
//! commands, from the `OrderPlaced` it receives on its own queue to a confirmed or cancelled order.
#![forbid(unsafe_code)]

pub mod payments;
