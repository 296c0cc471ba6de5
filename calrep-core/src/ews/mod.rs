//! Exchange Web Services: reading EWS XML into calrep's model. The client
//! and the simulator (issue 4) build on this reader.

mod item;
// The client that sends the requests is being built (issue 4); until it
// lands, only the tests call the response readers.
#[allow(dead_code)]
mod response;
mod xml;

pub use item::{EwsItemError, read_calendar_items};
