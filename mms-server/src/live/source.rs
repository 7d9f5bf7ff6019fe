//! What every source (a command, a paced file, a relay) feeds: a
//! [`Sink`], the point's ring (and its archive). A source runs on its
//! point's own thread, never on an event loop.

/// Where a source's ASF goes.
pub(crate) trait Sink {
    /// A run starts: the ASF file header (Header Object and the 50-byte
    /// Data Object prefix) as the source gave it. A source that restarts,
    /// or a playlist that moves to its next entry, calls it again; the
    /// point tells listeners when it differs from the last one. An `Err`
    /// (not ASF, a packet size of 0 or over 64 KiB) stops the source.
    fn header(&mut self, header: &[u8]) -> Result<(), String>;
    /// The run's next data packet: the packet size, or fewer bytes (the
    /// point zero-pads them). Packets before the first header are dropped.
    fn packet(&mut self, packet: &[u8]);
    /// Whether the source must stop now (the point stops on demand, the
    /// server stops). Sources look at it at least every 100 ms, also
    /// while they wait for input.
    fn should_stop(&self) -> bool;
}
