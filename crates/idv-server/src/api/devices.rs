//! Request and response bodies: devices.
