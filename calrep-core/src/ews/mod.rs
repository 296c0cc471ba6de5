//! Exchange Web Services: reading EWS XML into calrep's model. The client
//! and the simulator (issue 4) build on this reader.

mod item;
// The client that sends requests and reads responses is being built
// (issue 4); until it lands, only their tests call these two.
#[allow(dead_code)]
mod request;
#[allow(dead_code)]
mod response;
mod xml;
mod zone;

pub use item::{EwsItemError, read_calendar_items};
