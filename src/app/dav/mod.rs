//! WebDAV (RFC 4918): the XML of its request and response bodies.

pub mod xml;
