//! The Vendor aggregate: a seller's admission to the marketplace. A seller applies; an admin
//! approves, suspends or reinstates it, each time with a reason kept in its history. Only an
//! approved vendor sells (creates and publishes products); a suspended one still fulfils the
//! orders it has.
mod aggregate;
mod command;
mod event;
mod status;
#[cfg(test)]
mod tests;

pub use aggregate::Vendor;
pub use command::VendorCommand;
pub use event::VendorEvent;
pub use status::VendorStatus;
