//! Exchange Web Services: EWS XML read into calrep's model and written from
//! it, requests, responses and error codes. The HTTP client and the
//! simulator (issue 4) build on these.

mod item;
mod names;
// The client that sends requests and reads responses is being built
// (issue 4); until it lands, only their tests call these two.
#[allow(dead_code)]
mod request;
#[allow(dead_code)]
mod response;
// The simulator's core and its item writer; the HTTP server around them is
// the next step of issue 4, so for now only their tests call them.
#[allow(dead_code)]
mod sim;
#[allow(dead_code)]
mod write;
mod xml;
mod zone;

pub use item::{EwsItemError, read_calendar_items};
