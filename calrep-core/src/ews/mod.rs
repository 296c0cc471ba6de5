//! Exchange Web Services: reading EWS XML into calrep's model. The client
//! and the simulator (issue 4) build on this reader.

mod item;
mod xml;

pub use item::{EwsItemError, read_calendar_items};
