//! The `mms` command's arguments: clap definitions only, with no use of
//! the library, so `cargo xtask dist` builds the man pages and shell
//! completions from this very file (its items are `pub` for that user,
//! so `unreachable_pub` does not apply).
#![allow(unreachable_pub)]

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// `mms`.
#[derive(Parser)]
#[command(
    name = "mms",
    version,
    about = "Probe and download mms:// (MS-MMSP) streams",
    after_help = "Exit codes: 0 done; 1 output file error (e.g. a full disk); 2 bad arguments \
                  or URL; 3 host unreachable; 4 timeout; 5 file not found on the server; 6 \
                  authentication required or failed; 7 malformed or broken server; 8 other server \
                  refusal; 9 connection lost (the server closed or reset it); 130 interrupted \
                  by Ctrl-C, 143 by SIGTERM.\nWhatever ends a dump, the file written so far is \
                  finished as a valid ASF file: its header counts, sizes and durations are \
                  those of the packets it holds (after a full disk, the whole packets that \
                  fit). With `-o -` nothing can be patched: the header keeps the source's \
                  counts.\nLogs: RUST_LOG=mms_client=debug."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// Seconds to connect and receive the header (also the limit for a
    /// silent server).
    #[arg(long, global = true, default_value_t = 10.0)]
    pub timeout: f64,
    /// How Data packets travel for mms:// URLs: `auto` (UDP, then TCP if
    /// no datagram comes in 6 s), `udp` or `tcp`. mmsu:// is UDP and
    /// mmst:// TCP whatever this says.
    #[arg(long, global = true, value_enum, default_value_t = TransportArg::Auto)]
    pub transport: TransportArg,
    /// Connect through this MMS proxy (`HOST[:PORT]`, port 1755 by
    /// default; `[::1]:8080` for IPv6): the server's name goes in Connect's
    /// host-param ([3.1.4.1.1]). A server's RedirectType 2 sets or clears
    /// the proxy the same way.
    #[arg(long, global = true, value_name = "HOST:PORT", value_parser = parse_proxy)]
    pub proxy: Option<(String, u16)>,
    /// Local UDP port for Data over UDP (default: any free port).
    #[arg(long, global = true)]
    pub udp_port: Option<u16>,
    /// Say more: `-v` what the client tolerated of the server (or logs at
    /// info), `-vv` debug.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Refuse what servers send against the spec (a play incarnation not
    /// asked for, a short refusal, a malformed version, Data past the
    /// packet count or not ASF, streams or time not asked for) instead of
    /// tolerating it.
    #[arg(long, global = true)]
    pub strict: bool,
    /// User name for a protected stream (`DOMAIN\\user` for an NTLM
    /// domain); the password comes from MMS_PASSWORD, else it is asked on
    /// the terminal. `mms://user:password@host/…` works too.
    #[arg(long, global = true, value_name = "NAME")]
    pub user: Option<String>,
    /// Which scheme credentials may use: `auto` (what the server asks
    /// for), `ntlm`, or `basic` (sent with the open, base64 in the clear).
    #[arg(long, global = true, value_enum, default_value_t = AuthArg::Auto)]
    pub auth: AuthArg,
}

/// `--auth`.
#[derive(Clone, Copy, clap::ValueEnum)]
pub enum AuthArg {
    /// What the server asks for.
    Auto,
    /// NTLM only.
    Ntlm,
    /// Basic only.
    Basic,
}

/// `--transport`.
#[derive(Clone, Copy, clap::ValueEnum)]
pub enum TransportArg {
    /// UDP, then TCP if no datagram comes.
    Auto,
    /// Data over UDP.
    Udp,
    /// Data over the TCP connection.
    Tcp,
}

#[derive(Subcommand)]
pub enum Command {
    /// Print what the server says about a stream: version, attributes,
    /// the authentication scheme it names, whether it offers Data over
    /// UDP, duration, bit rate, packets and streams.
    #[command(after_long_help = "Examples:\n  mms probe mms://host/clip.wmv\n  \
                                 mms probe --json mmst://host/clip.wmv | jq .streams")]
    Probe(ProbeArgs),
    /// Download a stream into a valid, seekable ASF file.
    #[command(after_long_help = DUMP_EXAMPLES)]
    Dump(DumpArgs),
}

/// `mms dump --help` and the man page: one example per way to use it.
const DUMP_EXAMPLES: &str = "Examples:
  mms dump mms://host/clip.wmv -o clip.asf
  mms dump mms://host/clip.wmv -o - | ffplay -
  mms dump URL -o part.asf --start 1:30 --duration 20
  mms dump URL -o tail.asf --start-packet 400
  mms dump URL -o tail.asf --start-offset 1048576
  mms dump URL -o archive.asf --resume
  mms dump URL -o keys.asf --rate 5
  mms dump URL -o back.asf --rate -5 --start 60
  mms dump URL -o clip.asf --fast=20M
  mms dump URL -o best.asf --max-bitrate auto
  mms dump URL -o fr.asf --max-bitrate 500k --language fr
  mms dump URL -o video.asf --streams 1,3 --no-playlist -q
  mms --proxy proxy.lan:1755 dump URL -o clip.asf
  mms --transport udp --udp-port 7000 dump URL -o clip.asf
  mms --strict -v --timeout 5 dump URL -o clip.asf";

/// `mms probe`.
#[derive(Args)]
pub struct ProbeArgs {
    /// The stream, `mms://host[:port]/path`.
    pub url: String,
    /// JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// `mms dump`.
#[derive(Args)]
pub struct DumpArgs {
    /// The stream, `mms://host[:port]/path`.
    pub url: String,
    /// Output file (`-`: standard output, e.g. `| ffplay -`; a pipe
    /// keeps the source header's counts, as nothing can be patched).
    /// Further playlist entries go to NAME.2.asf, NAME.3.asf, …
    #[arg(short, long)]
    pub output: PathBuf,
    /// Start at this time (seconds, or `[h:]m:s`).
    #[arg(long, value_parser = parse_time)]
    pub start: Option<u64>,
    /// Start at this ASF packet number instead.
    #[arg(long, conflicts_with = "start")]
    pub start_packet: Option<u32>,
    /// Start at this byte offset of the ASF file instead (asfOffset,
    /// [2.2.4.25]): the server starts at the packet holding it.
    #[arg(long, value_name = "BYTES", conflicts_with_all = ["start", "start_packet"])]
    pub start_offset: Option<u32>,
    /// Fast forward (RATE > 1, up to 5) or rewind (RATE < 0, down to −5)
    /// from the start: StartStriding ([2.2.4.26]), the server sends key
    /// frames only (a dump at 5 is a file of key frames; a rewind's
    /// packets run backwards). 1: a normal play.
    #[arg(long, value_parser = parse_stride, allow_negative_numbers = true)]
    pub rate: Option<f64>,
    /// Ask for the whole content accelerated, at BITRATE (`--fast=20M`;
    /// default 100M): dwAccelBandwidth / dwAccelDuration of StartPlaying
    /// ([2.2.4.25]), for servers of version 9 or later. Says so when the
    /// server is older or sends at real time all the same.
    #[arg(long, value_name = "BITRATE", num_args = 0..=1, default_missing_value = "100M",
          require_equals = true, value_parser = parse_rate, conflicts_with = "rate")]
    pub fast: Option<u32>,
    /// Stop after this much content (seconds, or `[h:]m:s`).
    #[arg(long, value_parser = parse_time)]
    pub duration: Option<u64>,
    /// Stream numbers to keep (comma-separated); default: all.
    #[arg(long, value_delimiter = ',')]
    pub streams: Vec<u8>,
    /// Pick one stream per bit-rate/language group, best under this
    /// many bit/s (suffixes k, M), or `auto`: under the bandwidth the
    /// packet-pair measures ([3.1.5.4], [4.4.1]; all fit when the server
    /// measures none).
    #[arg(long, value_name = "BITRATE|auto", value_parser = parse_max_bitrate,
          conflicts_with = "streams")]
    pub max_bitrate: Option<MaxBitrate>,
    /// Preferred language for language groups (e.g. `en`, `fr`).
    #[arg(long, conflicts_with = "streams")]
    pub language: Option<String>,
    /// Stop at the end of the first playlist entry.
    #[arg(long)]
    pub no_playlist: bool,
    /// Continue the partial dump in OUTPUT (what a dropped link, Ctrl-C or
    /// a kill left): its whole packets are kept and the server is asked
    /// for the rest by packet number; the file grows into what a whole
    /// dump writes. For dumps of a whole stream (all streams, from the
    /// beginning). No OUTPUT yet: a plain dump.
    #[arg(long, visible_alias = "continue", conflicts_with_all = [
        "start", "start_packet", "start_offset", "duration", "streams", "max_bitrate", "language", "rate",
    ])]
    pub resume: bool,
    /// No progress bar.
    #[arg(long, short)]
    pub quiet: bool,
}

/// `12`, `12.5`, `1:02`, `1:02:03.5` → milliseconds.
pub fn parse_time(s: &str) -> Result<u64, String> {
    let mut ms = 0f64;
    for part in s.split(':') {
        let v: f64 = part
            .parse()
            .map_err(|_| format!("{s:?} is not a time (seconds or [h:]m:s)"))?;
        if !(v.is_finite() && v >= 0.0) {
            return Err(format!("{s:?} is not a time"));
        }
        ms = ms * 60.0 + v * 1000.0;
    }
    if s.split(':').count() > 3 {
        return Err(format!("{s:?}: at most h:m:s"));
    }
    Ok(ms.round() as u64)
}

/// `--max-bitrate`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MaxBitrate {
    /// Under the packet-pair bandwidth.
    Auto,
    /// Under this many bit/s.
    Fixed(u32),
}

/// `auto` or a bit rate.
pub fn parse_max_bitrate(s: &str) -> Result<MaxBitrate, String> {
    if s.eq_ignore_ascii_case("auto") {
        Ok(MaxBitrate::Auto)
    } else {
        parse_rate(s).map(MaxBitrate::Fixed)
    }
}

/// `host`, `host:port`, `[v6]`, `[v6]:port` → (host, port).
pub fn parse_proxy(s: &str) -> Result<(String, u16), String> {
    let bad = || format!("{s:?} is not HOST[:PORT]");
    let (host, port) = if let Some(rest) = s.strip_prefix('[') {
        let (h, tail) = rest.split_once(']').ok_or_else(bad)?;
        match tail.strip_prefix(':') {
            Some(p) => (h, Some(p)),
            None if tail.is_empty() => (h, None),
            None => return Err(bad()),
        }
    } else {
        match s.rsplit_once(':') {
            Some((h, p)) if !h.contains(':') => (h, Some(p)),
            Some(_) => return Err(bad()),
            None => (s, None),
        }
    };
    let port = match port {
        Some(p) => p.parse().map_err(|_| bad())?,
        None => 1755,
    };
    if host.is_empty() {
        return Err(bad());
    }
    Ok((host.to_string(), port))
}

/// A stride rate: −5..=5, not 0 ([2.2.4.26] Rate).
pub fn parse_stride(s: &str) -> Result<f64, String> {
    let v: f64 = s.parse().map_err(|_| format!("{s:?} is not a rate"))?;
    if !(-5.0..=5.0).contains(&v) || v == 0.0 {
        return Err(format!("{s:?}: a rate is in -5..5 and not 0"));
    }
    Ok(v)
}

/// `500000`, `500k`, `1.5M` → bit/s.
pub fn parse_rate(s: &str) -> Result<u32, String> {
    let (num, mul) = match s.as_bytes().last() {
        Some(b'k' | b'K') => (&s[..s.len() - 1], 1e3),
        Some(b'm' | b'M') => (&s[..s.len() - 1], 1e6),
        _ => (s, 1.0),
    };
    let v: f64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a bit rate"))?;
    let v = v * mul;
    if !(1.0..=u32::MAX as f64).contains(&v) {
        return Err(format!("{s:?} is out of range"));
    }
    Ok(v as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_and_rates() {
        assert_eq!(parse_time("12.5"), Ok(12_500));
        assert_eq!(parse_time("1:02"), Ok(62_000));
        assert_eq!(parse_time("1:00:01.5"), Ok(3_601_500));
        assert!(
            parse_time("x").is_err() && parse_time("-1").is_err() && parse_time("1:2:3:4").is_err()
        );
        assert_eq!(parse_rate("500k"), Ok(500_000));
        assert_eq!(parse_rate("1.5M"), Ok(1_500_000));
        assert!(parse_rate("0").is_err() && parse_rate("k").is_err());
        assert_eq!(parse_max_bitrate("AUTO"), Ok(MaxBitrate::Auto));
        assert_eq!(parse_max_bitrate("5k"), Ok(MaxBitrate::Fixed(5000)));
        assert_eq!(parse_stride("-5"), Ok(-5.0));
        assert_eq!(parse_proxy("p:8080"), Ok(("p".into(), 8080)));
        assert_eq!(parse_proxy("p"), Ok(("p".into(), 1755)));
        assert_eq!(parse_proxy("[::1]:9"), Ok(("::1".into(), 9)));
        assert!(parse_proxy("::1").is_err() && parse_proxy(":9").is_err());
        assert!(parse_stride("0").is_err() && parse_stride("5.5").is_err());
    }
}
